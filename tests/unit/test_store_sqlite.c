/*
 * test_store_sqlite.c - the SQLite backend of store.h against real database
 * files, one fresh temporary directory per test.
 *
 * Where the interface cannot show an effect (cascades, what the log holds),
 * the tests look at the file with a connection of their own, with the
 * keyword index's tokenizer and functions registered as vault does.
 */
#include <criterion/criterion.h>

#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "store/sqlite_fts.h"
#include "store/sqlite_vectors.h"
#include "store/store.h"
#include "store/vecmath.h"
#include "unit/store_import_cases.h"

static char dir[PATH_MAX];
static struct store *db;

static void setup(void)
{
	snprintf(dir, sizeof(dir), "%s/vault-store-XXXXXX", P_tmpdir);
	cr_assert_not_null(mkdtemp(dir));
	db = NULL;
	log_init(LOG_ERROR, LOG_JSON, NULL); /* quiet: migrations log at info */
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void teardown(void)
{
	store_close(db);
	db = NULL;
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(store_sqlite, .init = setup, .fini = teardown);

/* ---------------------------------------------------------------- helpers */

/* Absolute path of name inside the test's directory (static buffer). */
static const char *in_dir(const char *name)
{
	static char path[PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

static enum verr open_at(const char *name, const struct store_opts *opts, struct store **out,
                         struct verror *err)
{
	char url[PATH_MAX + 128];
	snprintf(url, sizeof(url), "sqlite:///%s", in_dir(name));
	return store_open(url, opts, out, err);
}

/* Opens db at vault.db with opts (NULL: defaults) and migrates it up. */
static void open_migrated(const struct store_opts *opts)
{
	struct verror err = {0};
	int applied = -1;
	cr_assert_eq(open_at("vault.db", opts, &db, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(store_migrate_up(db, -1, &applied, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(applied, 9);
}

static int64_t make_user(const char *email)
{
	struct verror err = {0};
	struct user u;
	cr_assert_eq(store_user_create(db, email, "$2b$12$hash", 1000, &u, &err), VERR_OK, "%s",
	             err.detail);
	return u.id;
}

static int64_t make_note(int64_t user_id, const char *title, const char *const *tags, size_t ntags,
                         int64_t now)
{
	struct verror err = {0};
	struct note_input in = {title, "body", tags, ntags};
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

/* The test's own connection to vault.db; close with sqlite3_close. */
static sqlite3 *open_raw(void)
{
	sqlite3 *raw;
	cr_assert_eq(sqlite3_open(in_dir("vault.db"), &raw), SQLITE_OK);
	cr_assert_eq(sqlite_fts_register(raw), SQLITE_OK);
	return raw;
}

/* One integer from sql, run on the test's own connection to vault.db. */
static int64_t query_int(const char *sql)
{
	sqlite3 *raw = open_raw();
	sqlite3_stmt *st;
	cr_assert_eq(sqlite3_prepare_v2(raw, sql, -1, &st, NULL), SQLITE_OK, "%s",
	             sqlite3_errmsg(raw));
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(raw);
	return v;
}

/* The user's rows in the keyword index holding term, on the test's own connection. */
static int64_t fts_count(int64_t user_id, const char *term)
{
	sqlite3 *raw = open_raw();
	sqlite3_stmt *st;
	char *match = sqlite_fts_match(user_id, &term, 1, false);
	cr_assert_eq(sqlite3_prepare_v2(raw,
	                                "SELECT COUNT(*) FROM notes_fts WHERE notes_fts MATCH ?1",
	                                -1, &st, NULL),
	             SQLITE_OK);
	sqlite3_bind_text(st, 1, match, -1, SQLITE_STATIC);
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s", sqlite3_errmsg(raw));
	int64_t v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(raw);
	free(match);
	return v;
}

static void exec_raw(const char *sql)
{
	sqlite3 *raw = open_raw();
	cr_assert_eq(sqlite3_exec(raw, sql, NULL, NULL, NULL), SQLITE_OK, "%s",
	             sqlite3_errmsg(raw));
	sqlite3_close(raw);
}

static bool is_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static void assert_tags(const struct note *n, const char *const *want, size_t nwant)
{
	cr_assert_eq(n->ntags, nwant, "note %lld has %zu tags, want %zu", (long long)n->id,
	             n->ntags, nwant);
	for (size_t i = 0; i < nwant; i++)
		cr_assert_str_eq(n->tags[i], want[i]);
}

/* ---------------------------------------------------------------- URLs */

/* One vector, through the batch call. */
static enum verr embed_one(struct store *st, int64_t chunk_id, const char *hash, const char *model,
                           int dim, const float *vec, int64_t now, struct verror *err)
{
	return store_embed_done(st, &chunk_id, &hash, 1, model, dim, vec, now, err);
}

Test(store_sqlite, url_absolute_creates_parent_dirs)
{
	struct verror err = {0};
	cr_assert_eq(open_at("a/b/c/vault.db", NULL, &db, &err), VERR_OK, "%s", err.detail);
	cr_assert_not_null(db);
	cr_assert(is_file(in_dir("a/b/c/vault.db")));
	cr_assert_eq(store_ping(db, &err), VERR_OK, "%s", err.detail);
}

Test(store_sqlite, url_relative_paths)
{
	struct verror err = {0};
	struct store *other = NULL;
	cr_assert_eq(chdir(dir), 0);

	cr_assert_eq(store_open("sqlite:///data/x.db", NULL, &db, &err), VERR_OK, "%s", err.detail);
	cr_assert(is_file(in_dir("data/x.db")));

	cr_assert_eq(store_open("sqlite:///./rel/deeper/y.db", NULL, &other, &err), VERR_OK, "%s",
	             err.detail);
	cr_assert(is_file(in_dir("rel/deeper/y.db")));
	store_close(other);
}

Test(store_sqlite, url_invalid)
{
	struct verror err = {0};
	const char *bad[] = {"sqlite:///", "sqlite://", "sqlite://host/x.db", "sqlite:///:memory:"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct store *s = (struct store *)&err; /* the backend must reset it to NULL */
		cr_assert_eq(store_open(bad[i], NULL, &s, &err), VERR_INVALID, "%s", bad[i]);
		cr_assert_null(s, "%s", bad[i]);
	}
	cr_assert_eq(store_open("mysql://localhost/vault", NULL, &db, &err), VERR_INVALID);
	cr_assert_null(db);
}

Test(store_sqlite, url_unusable_directory)
{
	struct verror err = {0};
	FILE *f = fopen(in_dir("plain"), "w");
	cr_assert_not_null(f);
	fclose(f);
	cr_assert_eq(open_at("plain/sub/vault.db", NULL, &db, &err), VERR_UNAVAILABLE);
	cr_assert_null(db);
	cr_assert(strstr(err.detail, "plain") != NULL, "%s", err.detail);
}

/* ---------------------------------------------------------------- migrations */

Test(store_sqlite, migrate_up_down_up_and_status)
{
	struct verror err = {0};
	struct migration_info *mi = NULL;
	size_t n = 0;
	int steps = -1;
	struct user u;

	cr_assert_eq(open_at("vault.db", NULL, &db, &err), VERR_OK, "%s", err.detail);

	cr_assert_eq(store_migrate_status(db, &mi, &n, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(n, 9);
	cr_assert_eq(mi[0].version, 1);
	cr_assert_str_eq(mi[0].name, "init");
	cr_assert_eq(mi[0].applied_at, 0);
	cr_assert_eq(mi[1].version, 2);
	cr_assert_str_eq(mi[1].name, "search");
	cr_assert_eq(mi[1].applied_at, 0);
	cr_assert_eq(mi[2].version, 3);
	cr_assert_str_eq(mi[2].name, "keyword_per_user");
	cr_assert_eq(mi[2].applied_at, 0);
	cr_assert_eq(mi[3].version, 4);
	cr_assert_str_eq(mi[3].name, "usage");
	cr_assert_eq(mi[4].version, 5);
	cr_assert_str_eq(mi[4].name, "vector_version");
	cr_assert_eq(mi[5].version, 6);
	cr_assert_str_eq(mi[5].name, "api_tokens");
	cr_assert_eq(mi[6].version, 7);
	cr_assert_str_eq(mi[6].name, "import");
	cr_assert_eq(mi[7].version, 8);
	cr_assert_str_eq(mi[7].name, "vector_notes");
	cr_assert_eq(mi[8].version, 9);
	cr_assert_str_eq(mi[8].name, "note_tags_order");
	free(mi);

	cr_assert_eq(store_migrate_up(db, -1, &steps, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(steps, 9);
	cr_assert_eq(store_migrate_up(db, -1, &steps, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(steps, 0, "up at the latest version must do nothing");

	cr_assert_eq(store_migrate_status(db, &mi, &n, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(n, 9);
	cr_assert_gt(mi[0].applied_at, 0);
	cr_assert_gt(mi[1].applied_at, 0);
	cr_assert_gt(mi[2].applied_at, 0);
	free(mi);
	cr_assert_eq(store_user_create(db, "a@x.org", "h", 1, &u, &err), VERR_OK, "%s", err.detail);

	/* One step down drops note_tags_order only. */
	cr_assert_eq(store_migrate_down(db, -1, &steps, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(steps, 1);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM sqlite_master WHERE name = 'note_tags_order'"),
	             0);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM sqlite_master WHERE name = 'vector_notes'"),
	             1);

	/* The next reverts vector_notes only: the table, the column and the triggers go. */
	cr_assert_eq(store_migrate_down(db, -1, &steps, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(steps, 1);
	cr_assert_eq(
	    query_int("SELECT COUNT(*) FROM sqlite_master WHERE name LIKE '%vector_notes%' "
	              "OR name IN ('chunks_vector_delete', 'chunks_vector_move')"),
	    0);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM pragma_table_info('users') "
	                       "WHERE name = 'vector_notes_from'"),
	             0);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM pragma_table_info('notes') "
	                       "WHERE name = 'source_path'"),
	             1);

	/* The next reverts import only: the columns, the index and the table go. */
	cr_assert_eq(store_migrate_down(db, -1, &steps, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(steps, 1);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM pragma_table_info('notes') "
	                       "WHERE name IN ('source_path', 'source_hash', 'aliases')"),
	             0);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM sqlite_master "
	                       "WHERE name IN ('note_links', 'notes_source', 'note_links_to')"),
	             0);

	/* The next reverts api_tokens only. */
	cr_assert_eq(store_migrate_down(db, -1, &steps, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(steps, 1);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM sqlite_master WHERE name LIKE 'api_tokens%'"),
	             0);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM users"), 1);

	/* The next reverts vector_version only, then usage, keyword_per_user, search. */
	cr_assert_eq(query_int("SELECT COUNT(*) FROM pragma_table_info('chunks') "
	                       "WHERE name = 'vector_version'"),
	             1);
	cr_assert_eq(store_migrate_down(db, -1, &steps, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(steps, 1);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM pragma_table_info('chunks') "
	                       "WHERE name = 'vector_version'"),
	             0);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM sqlite_master "
	                       "WHERE name = 'chunks_vector_version'"),
	             0);
	cr_assert_eq(store_migrate_down(db, -1, &steps, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(steps, 1);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM pragma_table_info('users') "
	                       "WHERE name IN ('notes_count', 'notes_bytes')"),
	             0);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM sqlite_master WHERE name LIKE 'notes_usage%'"),
	             0);
	cr_assert_eq(store_migrate_down(db, -1, &steps, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(steps, 1);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM sqlite_master WHERE name = 'keyword_stats'"),
	             0);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM sqlite_master WHERE name = 'notes_fts' AND "
	                       "sql LIKE '%porter unicode61%' AND sql NOT LIKE '%vault%'"),
	             1);
	cr_assert_eq(store_migrate_down(db, -1, &steps, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(steps, 1);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM users"), 1);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM sqlite_master WHERE name IN "
	                       "('chunks','notes_fts','notes_fts_delete')"),
	             0);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM pragma_table_info('users') "
	                       "WHERE name = 'index_version'"),
	             0);

	cr_assert_eq(store_migrate_down(db, -1, &steps, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(steps, 1);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM sqlite_master WHERE name IN "
	                       "('users','notes','note_tags','refresh_tokens')"),
	             0);
	cr_assert_eq(store_user_create(db, "a@x.org", "h", 1, &u, &err), VERR_INTERNAL);
	cr_assert_eq(store_migrate_down(db, -1, &steps, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(steps, 0);
	cr_assert_eq(store_migrate_status(db, &mi, &n, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(mi[0].applied_at, 0);
	cr_assert_eq(mi[1].applied_at, 0);
	cr_assert_eq(mi[2].applied_at, 0);
	free(mi);

	/* Up again: the cached statements must find the new tables. */
	cr_assert_eq(store_migrate_up(db, 1, &steps, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(steps, 1);
	cr_assert_eq(store_user_create(db, "a@x.org", "h", 1, &u, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(u.id, 1, "a fresh users table starts over");

	cr_assert_eq(store_migrate_down(db, 0, &steps, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(steps, 1);
	cr_assert_eq(store_migrate_up(db, 0, &steps, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(steps, 0);

	cr_assert_eq(store_migrate_up(db, 10, &steps, &err), VERR_INVALID);
	cr_assert_eq(store_migrate_up(db, -2, &steps, &err), VERR_INVALID);
	cr_assert_eq(store_migrate_down(db, -2, &steps, &err), VERR_INVALID);
}

Test(store_sqlite, schema_check_behind_current_ahead)
{
	struct verror err = {0};
	int steps;

	cr_assert_eq(open_at("vault.db", NULL, &db, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(store_schema_check(db, &err), VERR_UNAVAILABLE);
	cr_assert(strstr(err.detail, "version 0, expected 9") != NULL, "%s", err.detail);
	cr_assert(strstr(err.detail, "vault migrate up") != NULL, "%s", err.detail);

	cr_assert_eq(store_migrate_up(db, -1, &steps, &err), VERR_OK, "%s", err.detail);
	verr_clear(&err);
	cr_assert_eq(store_schema_check(db, &err), VERR_OK, "%s", err.detail);

	/* A newer build migrated this database further than we know. */
	exec_raw("INSERT INTO schema_migrations VALUES (99, 'future', 1)");
	cr_assert_eq(store_schema_check(db, &err), VERR_UNAVAILABLE);
	cr_assert(strstr(err.detail, "version 99") != NULL, "%s", err.detail);
	cr_assert(strstr(err.detail, "newer") != NULL, "%s", err.detail);
	cr_assert_eq(store_migrate_down(db, 0, &steps, &err), VERR_INVALID);
	cr_assert_eq(steps, 0);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM sqlite_master WHERE name = 'users'"), 1,
	             "a refused down must leave the schema alone");
}

/* ---------------------------------------------------------------- users */

Test(store_sqlite, constraint_errors_name_no_rows)
{
	/* PostgreSQL's DETAIL ("Key (user_id)=(987654) is not present...") went
	 * into the 404 a client read. */
	struct verror err = {0};
	struct user u, dup;
	open_migrated(NULL);
	cr_assert_eq(store_token_insert(db, 987654, "fam", "hash", 99999, 1, &err), VERR_NOT_FOUND);
	cr_assert(!strstr(err.detail, "987654") && !strstr(err.detail, "user_id"), "%s",
	          err.detail);
	cr_assert_eq(store_user_create(db, "ann@x.org", "h", 1, &u, &err), VERR_OK, "%s",
	             err.detail);
	cr_assert_eq(store_user_create(db, "ann@x.org", "h", 1, &dup, &err), VERR_CONFLICT);
	cr_assert(!strstr(err.detail, "ann@") && !strstr(err.detail, "email"), "%s", err.detail);
}

Test(store_sqlite, users_crud)
{
	struct verror err = {0};
	struct user u, got;
	struct user *all = NULL;
	size_t n = 0;
	open_migrated(NULL);

	cr_assert_eq(store_user_create(db, "ann@x.org", "$2b$12$ann", 111, &u, &err), VERR_OK, "%s",
	             err.detail);
	cr_assert_gt(u.id, 0);
	cr_assert_str_eq(u.email, "ann@x.org");
	cr_assert_str_eq(u.password_hash, "$2b$12$ann");
	cr_assert_eq(u.created_at, 111);

	cr_assert_eq(store_user_create(db, "ann@x.org", "$2b$12$other", 112, &got, &err),
	             VERR_CONFLICT);
	int64_t bob = make_user("bob@x.org");

	cr_assert_eq(store_user_get(db, u.id, &got, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(got.id, u.id);
	cr_assert_str_eq(got.email, "ann@x.org");
	cr_assert_str_eq(got.password_hash, "$2b$12$ann");
	cr_assert_eq(got.created_at, 111);

	cr_assert_eq(store_user_get_by_email(db, "bob@x.org", &got, &err), VERR_OK, "%s",
	             err.detail);
	cr_assert_eq(got.id, bob);
	cr_assert_eq(store_user_get_by_email(db, "BOB@x.org", &got, &err), VERR_NOT_FOUND,
	             "e-mails are stored as given");
	cr_assert_eq(store_user_get(db, 9999, &got, &err), VERR_NOT_FOUND);

	cr_assert_eq(store_user_list(db, &all, &n, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(n, 2);
	cr_assert_eq(all[0].id, u.id);
	cr_assert_eq(all[1].id, bob);
	cr_assert_str_eq(all[1].email, "bob@x.org");
	free(all);

	cr_assert_eq(store_user_delete(db, u.id, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(store_user_get(db, u.id, &got, &err), VERR_NOT_FOUND);
	cr_assert_eq(store_user_delete(db, u.id, &err), VERR_NOT_FOUND);
	cr_assert_eq(store_user_list(db, &all, &n, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(n, 1);
	cr_assert_eq(all[0].id, bob);
	free(all);

	char long_email[STORE_EMAIL_MAX + 2];
	memset(long_email, 'a', sizeof(long_email) - 1);
	long_email[sizeof(long_email) - 1] = '\0';
	cr_assert_eq(store_user_create(db, long_email, "h", 1, &got, &err), VERR_INVALID);
}

/* ---------------------------------------------------------------- notes */

/* Every note read takes its tags in order from note_tags_order, not from a sort. */
Test(store_sqlite, note_tags_are_read_in_order_without_a_sort)
{
	open_migrated(NULL);
	sqlite3 *raw = open_raw();
	sqlite3_stmt *st;
	cr_assert_eq(sqlite3_prepare_v2(raw,
	                                "EXPLAIN QUERY PLAN SELECT tag FROM note_tags t "
	                                "WHERE t.note_id = 1 ORDER BY position",
	                                -1, &st, NULL),
	             SQLITE_OK, "%s", sqlite3_errmsg(raw));
	bool indexed = false;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *detail = (const char *)sqlite3_column_text(st, 3);
		cr_assert(!strstr(detail, "TEMP B-TREE"), "tags sorted per read: %s", detail);
		indexed |= strstr(detail, "note_tags_order") != NULL;
	}
	sqlite3_finalize(st);
	sqlite3_close(raw);
	cr_assert(indexed, "the tags are not read through note_tags_order");
}

Test(store_sqlite, note_crud_keeps_tag_order)
{
	struct verror err = {0};
	struct note n, got;
	open_migrated(NULL);
	int64_t uid = make_user("ann@x.org");

	const char *tags[] = {"zeta", "alpha", "mid"};
	struct note_input in = {"Title", "Content\nline 2", tags, 3};
	cr_assert_eq(store_note_create(db, uid, &in, 5000, &n, &err), VERR_OK, "%s", err.detail);
	cr_assert_gt(n.id, 0);
	cr_assert_eq(n.user_id, uid);
	cr_assert_str_eq(n.title, "Title");
	cr_assert_str_eq(n.content, "Content\nline 2");
	cr_assert_eq(n.created_at, 5000);
	cr_assert_eq(n.updated_at, 5000);
	assert_tags(&n, tags, 3);

	cr_assert_eq(store_note_get(db, uid, n.id, &got, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(got.id, n.id);
	cr_assert_str_eq(got.title, "Title");
	cr_assert_str_eq(got.content, "Content\nline 2");
	cr_assert_eq(got.created_at, 5000);
	assert_tags(&got, tags, 3);
	note_free(&got);

	const char *tags2[] = {"b", "zeta", "a"};
	struct note_input in2 = {"New", "", tags2, 3};
	struct note upd;
	cr_assert_eq(store_note_update(db, uid, n.id, &in2, 7000, &upd, &err), VERR_OK, "%s",
	             err.detail);
	cr_assert_eq(upd.created_at, 5000, "created_at never changes");
	cr_assert_eq(upd.updated_at, 7000);
	cr_assert_str_eq(upd.title, "New");
	assert_tags(&upd, tags2, 3);
	note_free(&upd);

	cr_assert_eq(store_note_get(db, uid, n.id, &got, &err), VERR_OK, "%s", err.detail);
	cr_assert_str_eq(got.title, "New");
	cr_assert_str_eq(got.content, "");
	cr_assert_eq(got.created_at, 5000);
	cr_assert_eq(got.updated_at, 7000);
	assert_tags(&got, tags2, 3);
	note_free(&got);

	struct note_input in3 = {"Untagged", "x", NULL, 0};
	cr_assert_eq(store_note_update(db, uid, n.id, &in3, 8000, &upd, &err), VERR_OK, "%s",
	             err.detail);
	note_free(&upd);
	cr_assert_eq(store_note_get(db, uid, n.id, &got, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(got.ntags, 0);
	note_free(&got);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM note_tags"), 0);

	cr_assert_eq(store_note_delete(db, uid, n.id, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(store_note_get(db, uid, n.id, &got, &err), VERR_NOT_FOUND);
	cr_assert_eq(store_note_delete(db, uid, n.id, &err), VERR_NOT_FOUND);
	cr_assert_eq(store_note_update(db, uid, n.id, &in2, 9000, &upd, &err), VERR_NOT_FOUND);
	note_free(&n);
}

Test(store_sqlite, note_failed_update_changes_nothing)
{
	struct verror err = {0};
	struct note upd, got;
	open_migrated(NULL);
	int64_t uid = make_user("ann@x.org");
	const char *tags[] = {"keep"};
	struct chunk_input old_ch = {"", "old text", "old-hash"};
	struct note_input old = {"Old", "body", tags, 1, &old_ch, 1};
	cr_assert_eq(store_note_create(db, uid, &old, 100, &got, &err), VERR_OK, "%s", err.detail);
	int64_t id = got.id;
	note_free(&got);
	int64_t version = query_int("SELECT index_version FROM users");

	/* A duplicate tag breaks the primary key halfway through: all must roll back. */
	const char *dup[] = {"x", "x"};
	struct chunk_input new_ch = {"", "new text", "new-hash"};
	struct note_input in = {"New", "new", dup, 2, &new_ch, 1};
	cr_assert_eq(store_note_update(db, uid, id, &in, 200, &upd, &err), VERR_CONFLICT);
	cr_assert_null(upd.title);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM chunks WHERE hash = 'old-hash' AND seq = 0"),
	             1);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM chunks"), 1);
	cr_assert_eq(fts_count(uid, "old"), 1);
	cr_assert_eq(fts_count(uid, "new"), 0);
	cr_assert_eq(query_int("SELECT docs FROM keyword_stats"), 1);
	cr_assert_eq(query_int("SELECT index_version FROM users"), version);

	cr_assert_eq(store_note_get(db, uid, id, &got, &err), VERR_OK, "%s", err.detail);
	cr_assert_str_eq(got.title, "Old");
	cr_assert_eq(got.updated_at, 100);
	assert_tags(&got, tags, 1);
	note_free(&got);
}

Test(store_sqlite, note_ids_never_reused_and_owner_must_exist)
{
	struct verror err = {0};
	struct note n;
	open_migrated(NULL);
	int64_t uid = make_user("ann@x.org");
	int64_t first = make_note(uid, "a", NULL, 0, 1);
	cr_assert_eq(store_note_delete(db, uid, first, &err), VERR_OK, "%s", err.detail);
	int64_t second = make_note(uid, "b", NULL, 0, 2);
	cr_assert_gt(second, first);

	struct note_input in = {"t", "c", NULL, 0};
	cr_assert_eq(store_note_create(db, 4242, &in, 3, &n, &err), VERR_NOT_FOUND);
	cr_assert_null(n.title);
}

Test(store_sqlite, note_other_users_are_not_found)
{
	struct verror err = {0};
	struct note got, upd;
	struct note_page page;
	open_migrated(NULL);
	int64_t ann = make_user("ann@x.org");
	int64_t bob = make_user("bob@x.org");
	const char *tags[] = {"secret"};
	int64_t id = make_note(ann, "Ann's", tags, 1, 100);

	struct note_input in = {"Bob was here", "", NULL, 0};
	cr_assert_eq(store_note_get(db, bob, id, &got, &err), VERR_NOT_FOUND);
	cr_assert_eq(store_note_update(db, bob, id, &in, 200, &upd, &err), VERR_NOT_FOUND);
	cr_assert_eq(store_note_delete(db, bob, id, &err), VERR_NOT_FOUND);

	struct note_query q = {bob, 0, 10, NULL, 0};
	cr_assert_eq(store_note_list(db, &q, &page, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(page.total, 0);
	cr_assert_eq(page.n, 0);
	note_page_free(&page);
	struct note_query qt = {bob, 0, 10, tags, 1};
	cr_assert_eq(store_note_list(db, &qt, &page, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(page.total, 0);
	cr_assert_eq(page.n, 0);
	note_page_free(&page);

	cr_assert_eq(store_note_get(db, ann, id, &got, &err), VERR_OK, "%s", err.detail);
	cr_assert_str_eq(got.title, "Ann's");
	cr_assert_eq(got.updated_at, 100);
	assert_tags(&got, tags, 1);
	note_free(&got);
}

/* Sources, times given, aliases, links and backlinks (unit/store_import_cases.h). */
Test(store_sqlite, import_sources_and_links)
{
	open_migrated(NULL);
	store_import_cases(db, make_user("ann@x.org"), make_user("bob@x.org"));
}

Test(store_sqlite, note_list_pages_newest_first)
{
	struct verror err = {0};
	struct note_page page;
	int64_t ids[7];
	open_migrated(NULL);
	int64_t uid = make_user("ann@x.org");
	int64_t other = make_user("bob@x.org");

	/* Five notes with one timestamp (ties go to the higher id), then two newer. */
	for (int i = 0; i < 5; i++)
		ids[i] = make_note(uid, "same time", NULL, 0, 1000);
	ids[5] = make_note(uid, "newest", NULL, 0, 3000);
	ids[6] = make_note(uid, "newer", NULL, 0, 2000);
	make_note(other, "not ann's", NULL, 0, 9000);
	const int64_t order[7] = {ids[5], ids[6], ids[4], ids[3], ids[2], ids[1], ids[0]};

	struct note_query q = {uid, 0, 3, NULL, 0};
	cr_assert_eq(store_note_list(db, &q, &page, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(page.total, 7);
	cr_assert_eq(page.n, 3);
	for (size_t i = 0; i < 3; i++)
		cr_assert_eq(page.items[i].id, order[i], "item %zu", i);
	cr_assert_str_eq(page.items[0].title, "newest");
	cr_assert_eq(page.items[0].user_id, uid);
	note_page_free(&page);

	q.skip = 3;
	q.limit = 3;
	cr_assert_eq(store_note_list(db, &q, &page, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(page.total, 7);
	cr_assert_eq(page.n, 3);
	for (size_t i = 0; i < 3; i++)
		cr_assert_eq(page.items[i].id, order[3 + i], "item %zu", i);
	note_page_free(&page);

	q.skip = 6;
	cr_assert_eq(store_note_list(db, &q, &page, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(page.n, 1);
	cr_assert_eq(page.items[0].id, order[6]);
	note_page_free(&page);

	q.skip = 7;
	cr_assert_eq(store_note_list(db, &q, &page, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(page.total, 7);
	cr_assert_eq(page.n, 0);
	note_page_free(&page);

	q.skip = 0;
	q.limit = 0;
	cr_assert_eq(store_note_list(db, &q, &page, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(page.total, 7);
	cr_assert_eq(page.n, 0);
	note_page_free(&page);

	q.skip = -1;
	cr_assert_eq(store_note_list(db, &q, &page, &err), VERR_INVALID);
}

Test(store_sqlite, note_list_tag_filter_is_and)
{
	struct verror err = {0};
	struct note_page page;
	open_migrated(NULL);
	int64_t uid = make_user("ann@x.org");
	int64_t other = make_user("bob@x.org");

	const char *wr[] = {"work", "rust"};
	const char *w[] = {"work"};
	const char *rw[] = {"rust", "home", "work"};
	const char *r[] = {"rust"};
	int64_t a = make_note(uid, "a", wr, 2, 100);
	make_note(uid, "b", w, 1, 200);
	int64_t c = make_note(uid, "c", rw, 3, 300);
	make_note(uid, "d", r, 1, 400);
	make_note(uid, "e", NULL, 0, 500);
	make_note(other, "bob's", wr, 2, 600);

	struct note_query q = {uid, 0, 10, w, 1};
	cr_assert_eq(store_note_list(db, &q, &page, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(page.total, 3);
	cr_assert_eq(page.n, 3);
	cr_assert_str_eq(page.items[0].title, "c");
	cr_assert_str_eq(page.items[1].title, "b");
	cr_assert_str_eq(page.items[2].title, "a");
	/* The page carries every note's full tag list, in stored order. */
	assert_tags(&page.items[0], rw, 3);
	assert_tags(&page.items[1], w, 1);
	assert_tags(&page.items[2], wr, 2);
	note_page_free(&page);

	const char *both[] = {"rust", "work"};
	q.tags = both;
	q.ntags = 2;
	cr_assert_eq(store_note_list(db, &q, &page, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(page.total, 2);
	cr_assert_eq(page.n, 2);
	cr_assert_eq(page.items[0].id, c);
	cr_assert_eq(page.items[1].id, a);
	note_page_free(&page);

	q.limit = 1;
	q.skip = 1;
	cr_assert_eq(store_note_list(db, &q, &page, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(page.total, 2);
	cr_assert_eq(page.n, 1);
	cr_assert_eq(page.items[0].id, a);
	assert_tags(&page.items[0], wr, 2);
	note_page_free(&page);

	const char *none[] = {"rust", "nope"};
	q.tags = none;
	q.skip = 0;
	cr_assert_eq(store_note_list(db, &q, &page, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(page.total, 0);
	cr_assert_eq(page.n, 0);
	note_page_free(&page);

	/* Unfiltered: tags of a whole page, untagged notes included. */
	struct note_query all = {uid, 0, 10, NULL, 0};
	cr_assert_eq(store_note_list(db, &all, &page, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(page.total, 5);
	cr_assert_str_eq(page.items[0].title, "e");
	cr_assert_eq(page.items[0].ntags, 0);
	assert_tags(&page.items[1], r, 1);
	assert_tags(&page.items[2], rw, 3);
	note_page_free(&page);
}

Test(store_sqlite, note_tags_with_json_specials)
{
	struct verror err = {0};
	struct note_page page;
	open_migrated(NULL);
	int64_t uid = make_user("ann@x.org");
	const char *odd[] = {"say \"hi\"", "back\\slash", "tab\there", "ünï"};
	make_note(uid, "odd", odd, 4, 1);
	make_note(uid, "plain", NULL, 0, 2);

	for (size_t i = 0; i < 4; i++) {
		struct note_query q = {uid, 0, 10, &odd[i], 1};
		cr_assert_eq(store_note_list(db, &q, &page, &err), VERR_OK, "%s", err.detail);
		cr_assert_eq(page.total, 1, "tag %s", odd[i]);
		assert_tags(&page.items[0], odd, 4);
		note_page_free(&page);
	}
}

/* ---------------------------------------------------------------- tokens */

Test(store_sqlite, token_rotate_and_reuse_revokes_family)
{
	struct verror err = {0};
	int64_t uid = 0;
	open_migrated(NULL);
	int64_t ann = make_user("ann@x.org");
	make_token(ann, "fam-1", "t1", 10000);
	make_token(ann, "fam-2", "other", 10000);

	cr_assert_eq(store_token_rotate(db, "t1", "t2", 20000, 2000, 0, &uid, &err), VERR_OK, "%s",
	             err.detail);
	cr_assert_eq(uid, ann);
	cr_assert_eq(query_int("SELECT used_at FROM refresh_tokens WHERE token_hash = 't1'"), 2000);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM refresh_tokens WHERE token_hash = 't2' "
	                       "AND family = 'fam-1' AND expires_at = 20000 AND user_id = 1"),
	             1);

	cr_assert_eq(store_token_rotate(db, "t2", "t3", 30000, 3000, 0, &uid, &err), VERR_OK, "%s",
	             err.detail);

	/* t1 again: a stolen, already rotated token. */
	cr_assert_eq(store_token_rotate(db, "t1", "evil", 30000, 4000, 0, &uid, &err),
	             VERR_UNAUTHORIZED);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM refresh_tokens WHERE token_hash = 'evil'"), 0);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM refresh_tokens WHERE family = 'fam-1' "
	                       "AND revoked_at = 4000"),
	             3, "the revocation must be committed");
	cr_assert_eq(store_token_rotate(db, "t3", "t4", 30000, 4100, 0, &uid, &err),
	             VERR_UNAUTHORIZED, "the newest member is revoked with its family");

	/* Other families live on. */
	cr_assert_eq(store_token_rotate(db, "other", "other2", 30000, 4200, 0, &uid, &err), VERR_OK,
	             "%s", err.detail);
}

Test(store_sqlite, token_rotate_grace_tells_a_race_from_a_replay)
{
	struct verror err = {0};
	int64_t uid = 0;
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

Test(store_sqlite, login_clears_only_expired_tokens)
{
	struct verror err = {0};
	open_migrated(NULL);
	int64_t ann = make_user("ann@x.org"), bob = make_user("bob@x.org");
	make_token(ann, "fam-1", "old", 1000);
	make_token(ann, "fam-2", "live", 90000);
	make_token(bob, "fam-3", "bobs-old", 1000);
	cr_assert_eq(store_token_insert(db, ann, "fam-4", "new", 90000, 5000, &err), VERR_OK, "%s",
	             err.detail);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM refresh_tokens WHERE token_hash = 'old'"), 0);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM refresh_tokens WHERE token_hash = 'live'"), 1);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM refresh_tokens WHERE token_hash = 'bobs-old'"),
	             1, "another user's tokens are not touched");
}

Test(store_sqlite, token_rotate_rejects_expired_unknown_and_duplicates)
{
	struct verror err = {0};
	int64_t uid = -1;
	open_migrated(NULL);
	int64_t ann = make_user("ann@x.org");
	make_token(ann, "fam", "old", 5000);

	cr_assert_eq(store_token_rotate(db, "old", "new", 9000, 5000, 0, &uid, &err),
	             VERR_UNAUTHORIZED, "expires_at is exclusive");
	cr_assert_eq(uid, -1);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM refresh_tokens WHERE used_at IS NOT NULL "
	                       "OR revoked_at IS NOT NULL OR token_hash = 'new'"),
	             0, "a rejected rotation writes nothing");
	cr_assert_eq(store_token_rotate(db, "nope", "new", 9000, 10, 0, &uid, &err),
	             VERR_UNAUTHORIZED);

	cr_assert_eq(store_token_insert(db, ann, "fam2", "old", 9000, 10, &err), VERR_CONFLICT);
	cr_assert_eq(store_token_insert(db, 777, "fam3", "fresh", 9000, 10, &err), VERR_NOT_FOUND);
}

Test(store_sqlite, token_revoke_family_and_all)
{
	struct verror err = {0};
	int64_t uid;
	open_migrated(NULL);
	int64_t ann = make_user("ann@x.org");
	int64_t bob = make_user("bob@x.org");
	make_token(ann, "a1", "a1-t1", 10000);
	make_token(ann, "a2", "a2-t1", 10000);
	make_token(ann, "a3", "a3-t1", 10000);
	make_token(bob, "b1", "b1-t1", 10000);
	cr_assert_eq(store_token_rotate(db, "a1-t1", "a1-t2", 10000, 100, 0, &uid, &err), VERR_OK,
	             "%s", err.detail);

	cr_assert_eq(store_token_revoke_family(db, bob, "a1-t2", 200, &err), VERR_NOT_FOUND,
	             "another user's token");
	cr_assert_eq(store_token_revoke_family(db, ann, "missing", 200, &err), VERR_NOT_FOUND);

	/* Revoking by the older member takes the whole family. */
	cr_assert_eq(store_token_revoke_family(db, ann, "a1-t1", 200, &err), VERR_OK, "%s",
	             err.detail);
	cr_assert_eq(store_token_rotate(db, "a1-t2", "x", 10000, 300, 0, &uid, &err),
	             VERR_UNAUTHORIZED);
	cr_assert_eq(store_token_revoke_family(db, ann, "a1-t2", 250, &err), VERR_OK,
	             "revoking twice is fine");
	cr_assert_eq(store_token_rotate(db, "a2-t1", "a2-t2", 10000, 300, 0, &uid, &err), VERR_OK,
	             "%s", err.detail);

	cr_assert_eq(store_token_revoke_all(db, ann, 400, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(store_token_rotate(db, "a2-t2", "y", 10000, 500, 0, &uid, &err),
	             VERR_UNAUTHORIZED);
	cr_assert_eq(store_token_rotate(db, "a3-t1", "z", 10000, 500, 0, &uid, &err),
	             VERR_UNAUTHORIZED);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM refresh_tokens WHERE user_id = 1 AND "
	                       "revoked_at IS NULL"),
	             0);
	cr_assert_eq(store_token_rotate(db, "b1-t1", "b1-t2", 10000, 500, 0, &uid, &err), VERR_OK,
	             "bob is untouched: %s", err.detail);
	cr_assert_eq(uid, bob);
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

Test(store_sqlite, token_concurrent_rotation_has_one_winner)
{
	pthread_t threads[RACERS];
	struct racer racers[RACERS];
	pthread_barrier_t start;
	open_migrated(NULL);
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
	cr_assert_eq(query_int("SELECT COUNT(*) FROM refresh_tokens WHERE token_hash LIKE "
	                       "'next-%'"),
	             1);
}

/* ---------------------------------------------------------------- cascades, durability */

Test(store_sqlite, user_delete_cascades)
{
	struct verror err = {0};
	struct note got;
	open_migrated(NULL);
	int64_t ann = make_user("ann@x.org");
	int64_t bob = make_user("bob@x.org");
	const char *tags[] = {"x", "y"};
	make_note(ann, "a1", tags, 2, 1);
	make_note(ann, "a2", tags, 1, 2);
	int64_t bobs = make_note(bob, "b1", tags, 2, 3);
	make_token(ann, "fa", "ta", 9999);
	make_token(bob, "fb", "tb", 9999);

	cr_assert_eq(store_user_delete(db, ann, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM notes"), 1);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM notes WHERE user_id = 1"), 0);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM note_tags"), 2);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM note_tags WHERE user_id = 1"), 0);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM refresh_tokens"), 1);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM refresh_tokens WHERE user_id = 1"), 0);

	cr_assert_eq(store_note_get(db, bob, bobs, &got, &err), VERR_OK, "%s", err.detail);
	assert_tags(&got, tags, 2);
	note_free(&got);
}

Test(store_sqlite, writes_survive_reopen)
{
	struct verror err = {0};
	struct note got;
	struct user u;
	open_migrated(NULL);
	int64_t uid = make_user("ann@x.org");
	const char *tags[] = {"kept"};
	int64_t id = make_note(uid, "durable", tags, 1, 42);
	store_close(db);
	db = NULL;

	cr_assert_eq(open_at("vault.db", NULL, &db, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(store_schema_check(db, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(store_user_get(db, uid, &u, &err), VERR_OK, "%s", err.detail);
	cr_assert_str_eq(u.email, "ann@x.org");
	cr_assert_eq(store_note_get(db, uid, id, &got, &err), VERR_OK, "%s", err.detail);
	cr_assert_str_eq(got.title, "durable");
	assert_tags(&got, tags, 1);
	note_free(&got);
}

Test(store_sqlite, wal_and_foreign_keys_are_on)
{
	open_migrated(NULL);
	cr_assert_eq(query_int("SELECT journal_mode = 'wal' FROM pragma_journal_mode"), 1);
	/* foreign_keys is per connection: prove ours enforce it (see cascade tests) and
	 * that the schema declares the cascades. */
	cr_assert_eq(query_int("SELECT COUNT(*) FROM pragma_foreign_key_list('notes') "
	                       "WHERE \"table\" = 'users' AND on_delete = 'CASCADE'"),
	             1);
}

/* ---------------------------------------------------------------- failures */

Test(store_sqlite, busy_database_is_unavailable)
{
	struct verror err = {0};
	struct user u;
	struct store_opts opts = {.busy_timeout_ms = 50};
	open_migrated(&opts);

	sqlite3 *raw;
	cr_assert_eq(sqlite3_open(in_dir("vault.db"), &raw), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(raw, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	cr_assert_eq(store_user_create(db, "ann@x.org", "h", 1, &u, &err), VERR_UNAVAILABLE);
	cr_assert(strstr(err.detail, "busy") != NULL, "%s", err.detail);
	cr_assert_eq(sqlite3_exec(raw, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(raw);

	/* The connection that failed went back to the pool in a usable state. */
	cr_assert_eq(store_user_create(db, "ann@x.org", "h", 1, &u, &err), VERR_OK, "%s",
	             err.detail);
}

Test(store_sqlite, not_a_database_is_unavailable)
{
	struct verror err = {0};
	FILE *f = fopen(in_dir("vault.db"), "w");
	cr_assert_not_null(f);
	fputs("this is not an SQLite database, not even close; padding padding padding padding "
	      "padding padding",
	      f);
	fclose(f);
	cr_assert_eq(open_at("vault.db", NULL, &db, &err), VERR_UNAVAILABLE);
	cr_assert_null(db);
}

/* ---------------------------------------------------------------- pool */

#define WORKERS 24 /* more than the pool holds, so some must wait */

static void *work(void *arg)
{
	int64_t uid = *(int64_t *)arg;
	for (int i = 0; i < 20; i++) {
		struct verror err = {0};
		struct note n;
		struct note_page page;
		const char *tags[] = {"load"};
		struct note_input in = {"t", "c", tags, 1};
		if (store_note_create(db, uid, &in, i, &n, &err) != VERR_OK)
			return (void *)1;
		note_free(&n);
		struct note_query q = {uid, 0, 5, tags, 1};
		if (store_note_list(db, &q, &page, &err) != VERR_OK || page.n == 0)
			return (void *)1;
		note_page_free(&page);
	}
	return NULL;
}

Test(store_sqlite, pool_serves_many_threads)
{
	pthread_t threads[WORKERS];
	struct verror err = {0};
	struct note_page page;
	open_migrated(NULL);
	int64_t uid = make_user("ann@x.org");

	for (int i = 0; i < WORKERS; i++)
		cr_assert_eq(pthread_create(&threads[i], NULL, work, &uid), 0);
	int failed = 0;
	for (int i = 0; i < WORKERS; i++) {
		void *res;
		pthread_join(threads[i], &res);
		failed += res != NULL;
	}
	cr_assert_eq(failed, 0);
	struct note_query q = {uid, 0, 1, NULL, 0};
	cr_assert_eq(store_note_list(db, &q, &page, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(page.total, WORKERS * 20);
	note_page_free(&page);
}

/* ---------------------------------------------------------------- echo */

static int count_lines(const char *text, const char *needle)
{
	int n = 0;
	for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

Test(store_sqlite, echo_logs_sql_but_never_values)
{
	struct verror err = {0};
	struct user u;
	struct note n;
	FILE *log = tmpfile();
	cr_assert_not_null(log);
	log_init(LOG_INFO, LOG_JSON, log);

	struct store_opts opts = {.echo = true};
	open_migrated(&opts);
	cr_assert_eq(store_user_create(db, "leak@x.org", "$2b$12$SECRETHASH", 1, &u, &err), VERR_OK,
	             "%s", err.detail);
	cr_assert_eq(store_token_insert(db, u.id, "FAMILYVALUE", "TOKENHASHVALUE", 99, 1, &err),
	             VERR_OK, "%s", err.detail);
	const char *tags[] = {"TAGVALUE", "TAG2VALUE"};
	struct chunk_input ch = {"HEADINGVALUE", "CHUNKVALUE", "CHUNKHASHVALUE"};
	struct note_input in = {"TITLEVALUE", "CONTENTVALUE", tags, 2, &ch, 1};
	cr_assert_eq(store_note_create(db, u.id, &in, 1, &n, &err), VERR_OK, "%s", err.detail);
	note_free(&n);
	cr_assert_eq(store_user_delete(db, u.id, &err), VERR_OK, "%s", err.detail);
	store_close(db);
	db = NULL;
	log_init(LOG_INFO, LOG_JSON, NULL);

	long size = ftell(log);
	cr_assert_gt(size, 0);
	char *text = calloc(1, (size_t)size + 1);
	rewind(log);
	cr_assert_eq(fread(text, 1, (size_t)size, log), (size_t)size);
	fclose(log);

	cr_assert(strstr(text, "\"event\":\"sql\"") != NULL, "%s", text);
	cr_assert(strstr(text, "INSERT INTO users") != NULL, "%s", text);
	cr_assert(strstr(text, "INSERT INTO refresh_tokens") != NULL, "%s", text);
	/* Each run of a statement is one line: the tag insert ran once for both
	 * tags, and the cascades of the user delete are not repeated as lines of
	 * their own. */
	cr_assert_eq(count_lines(text, "INSERT INTO note_tags"), 1, "%s", text);
	cr_assert_eq(count_lines(text, "DELETE FROM users"), 1, "%s", text);
	const char *secrets[] = {"leak@x.org",   "SECRETHASH", "FAMILYVALUE",   "TOKENHASHVALUE",
	                         "TAGVALUE",     "TAG2VALUE",  "TITLEVALUE",    "CONTENTVALUE",
	                         "HEADINGVALUE", "CHUNKVALUE", "CHUNKHASHVALUE"};
	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
		cr_assert(strstr(text, secrets[i]) == NULL, "log holds %s", secrets[i]);
	free(text);
}

Test(store_sqlite, no_echo_logs_no_sql)
{
	FILE *log = tmpfile();
	cr_assert_not_null(log);
	log_init(LOG_DEBUG, LOG_JSON, log);
	open_migrated(NULL);
	make_user("ann@x.org");
	store_close(db);
	db = NULL;
	log_init(LOG_INFO, LOG_JSON, NULL);

	long size = ftell(log);
	char *text = calloc(1, (size_t)size + 1);
	rewind(log);
	cr_assert_eq(fread(text, 1, (size_t)size, log), (size_t)size);
	fclose(log);
	cr_assert(strstr(text, "\"event\":\"sql\"") == NULL, "%s", text);
	free(text);
}

/* ---------------------------------------------------------------- search: helpers */

#define DIM 4

/* One integer from a printf-style query (sqlite3_mprintf: %q quotes, %lld). */
static int64_t query_intf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *sql = sqlite3_vmprintf(fmt, ap);
	va_end(ap);
	int64_t v = query_int(sql);
	sqlite3_free(sql);
	return v;
}

/* Chunks whose hash is their text: short, unique and readable in these tests. */
static void chunks_of(const char *const *texts, size_t n, struct chunk_input *out)
{
	for (size_t i = 0; i < n; i++)
		out[i] = (struct chunk_input){"", texts[i], texts[i]};
}

static int64_t make_chunked(int64_t uid, const char *title, const char *const *texts, size_t n,
                            int64_t now)
{
	struct verror err = {0};
	struct chunk_input ch[16];
	struct note got;
	cr_assert_leq(n, 16);
	chunks_of(texts, n, ch);
	struct note_input in = {title, "body", NULL, 0, ch, n};
	cr_assert_eq(store_note_create(db, uid, &in, now, &got, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(got.embedding_status, n ? EMBED_PENDING : EMBED_READY);
	int64_t id = got.id;
	note_free(&got);
	return id;
}

/* Replaces the note's chunks; returns the note's embedding_status as update reports it. */
static enum embed_status update_chunked(int64_t uid, int64_t id, const char *title,
                                        const char *const *texts, size_t n, int64_t now)
{
	struct verror err = {0};
	struct chunk_input ch[16];
	struct note got;
	cr_assert_leq(n, 16);
	chunks_of(texts, n, ch);
	struct note_input in = {title, "body", NULL, 0, ch, n};
	cr_assert_eq(store_note_update(db, uid, id, &in, now, &got, &err), VERR_OK, "%s",
	             err.detail);
	enum embed_status st = got.embedding_status;
	note_free(&got);
	return st;
}

static int64_t chunk_id(const char *text)
{
	return query_intf("SELECT id FROM chunks WHERE text = %Q", text);
}

static enum embed_status note_status(int64_t uid, int64_t id)
{
	struct verror err = {0};
	struct note n;
	cr_assert_eq(store_note_get(db, uid, id, &n, &err), VERR_OK, "%s", err.detail);
	enum embed_status st = n.embedding_status;
	note_free(&n);
	return st;
}

static int64_t version_of(int64_t uid)
{
	struct verror err = {0};
	int64_t v = -1;
	cr_assert_eq(store_index_version(db, uid, &v, &err), VERR_OK, "%s", err.detail);
	return v;
}

/* A vector whose first element marks it; the rest are fixed. */
static void vec_make(float *v, int dim, float marker)
{
	v[0] = marker;
	for (int i = 1; i < dim; i++)
		v[i] = (float)i / 100.0f;
}

static void embed(int64_t cid, const char *hash, const char *model, int dim, float marker)
{
	struct verror err = {0};
	float v[64];
	cr_assert_leq(dim, 64);
	vec_make(v, dim, marker);
	cr_assert_eq(embed_one(db, cid, hash, model, dim, v, 9000, &err), VERR_OK, "%s",
	             err.detail);
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

/* ---------------------------------------------------------------- search: migration */

Test(store_sqlite, migrate_search_backfills_and_reverts)
{
	struct verror err = {0};
	struct keyword_hit *hits = NULL;
	size_t n = 0;
	int steps;
	cr_assert_eq(open_at("vault.db", NULL, &db, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(store_migrate_up(db, 1, &steps, &err), VERR_OK, "%s", err.detail);

	/* Notes written by a build that knew only migration 1. */
	exec_raw("INSERT INTO users (id, email, password_hash, created_at) VALUES (1, 'a', 'h', 1);"
	         "INSERT INTO notes VALUES (1, 1, 'Gardening', 'tomatoes need sun', 1, 1);"
	         "INSERT INTO notes VALUES (2, 1, 'Cooking', 'pasta with basil', 2, 2);"
	         "INSERT INTO note_tags VALUES (2, 1, 'kitchen', 0), (2, 1, 'herbs', 1);");

	/* 2: one FTS5 table for all, filled from the notes. */
	cr_assert_eq(store_migrate_up(db, 2, &steps, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(steps, 1);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM notes_fts"), 2);
	cr_assert_eq(query_int("SELECT tags = 'kitchen herbs' FROM notes_fts WHERE rowid = 2"), 1);
	cr_assert_eq(query_int("SELECT rowid FROM notes_fts WHERE notes_fts MATCH 'tomato'"), 1);

	/* 3: the same notes in their owner's index. */
	cr_assert_eq(store_migrate_up(db, 3, &steps, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(steps, 1);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM notes_fts"), 2);
	cr_assert_eq(query_int("SELECT tags = char(31) || '1' || char(31) || 'kitchen herbs' "
	                       "FROM notes_fts WHERE rowid = 2"),
	             1);
	cr_assert_eq(query_int("SELECT docs FROM keyword_stats WHERE user_id = 1"), 2);
	cr_assert_eq(query_int("SELECT tokens FROM keyword_stats WHERE user_id = 1"), 10);
	cr_assert_eq(store_keyword_search(db, 1, (const char *[]){"tomatoes"}, 1, false, NULL, 0,
	                                  10, &hits, &n, &err),
	             VERR_OK, "%s", err.detail);
	cr_assert_eq(n, 1);
	cr_assert_eq(hits[0].note_id, 1);
	free(hits);
	cr_assert_eq(store_keyword_search(db, 1, (const char *[]){"herbs"}, 1, false, NULL, 0, 10,
	                                  &hits, &n, &err),
	             VERR_OK, "%s", err.detail);
	cr_assert_eq(n, 1);
	cr_assert_eq(hits[0].note_id, 2);
	free(hits);
	cr_assert_eq(version_of(1), 0);

	/* Down from 3: migration 2's table again, filled from the notes. */
	cr_assert_eq(store_migrate_down(db, -1, &steps, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(steps, 1);
	cr_assert_eq(query_int("SELECT tags = 'kitchen herbs' FROM notes_fts WHERE rowid = 2"), 1);
	cr_assert_eq(query_int("SELECT rowid FROM notes_fts WHERE notes_fts MATCH 'tomato'"), 1);
	exec_raw("PRAGMA foreign_keys = ON; DELETE FROM notes WHERE id = 2"); /* 2's trigger */
	cr_assert_eq(query_int("SELECT COUNT(*) FROM notes_fts"), 1);
	exec_raw("INSERT INTO notes VALUES (2, 1, 'Cooking', 'pasta with basil', 2, 2);"
	         "INSERT INTO note_tags VALUES (2, 1, 'kitchen', 0), (2, 1, 'herbs', 1);"
	         "INSERT INTO notes_fts (rowid, title, content, tags, user_id) "
	         "VALUES (2, 'Cooking', 'pasta with basil', 'kitchen herbs', 1);");

	/* Down from 2 keeps notes and users, drops the rest; up again rebuilds the index. */
	cr_assert_eq(store_migrate_down(db, -1, &steps, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(steps, 1);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM notes"), 2);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM sqlite_master WHERE name LIKE 'chunks%' OR "
	                       "name LIKE 'notes_fts%' OR name = 'keyword_stats'"),
	             0);
	exec_raw("DELETE FROM notes WHERE id = 1"); /* no trigger left to fire */
	cr_assert_eq(store_migrate_up(db, -1, &steps, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(steps, 8);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM notes_fts"), 1);
	cr_assert_eq(query_int("SELECT docs FROM keyword_stats WHERE user_id = 1"), 1);
	const char *texts[] = {"one"};
	int64_t id = make_chunked(1, "again", texts, 1, 5);
	cr_assert_eq(note_status(1, id), EMBED_PENDING);
	cr_assert_eq(version_of(1), 1);
	cr_assert_eq(query_int("SELECT docs FROM keyword_stats WHERE user_id = 1"), 2);
	/* (The store reads notes only at the latest version, with every column.) */
	cr_assert_eq(note_status(1, make_note(1, "bare", NULL, 0, 6)), EMBED_READY,
	             "a note without chunks is ready");
}

/* ---------------------------------------------------------------- search: queue */

Test(store_sqlite, chunks_claim_lease_and_done)
{
	struct verror err = {0};
	struct embed_job *jobs = NULL;
	size_t n;
	int64_t ids[8];
	open_migrated(NULL);
	int64_t ann = make_user("ann@x.org");
	int64_t bob = make_user("bob@x.org");
	struct chunk_input ch[3] = {{"Intro", "first text", "h1"},
	                            {"Intro > More", "second text", "h2"},
	                            {"", "third", "h3"}};
	struct note_input in = {"My title", "content", NULL, 0, ch, 3};
	struct note note;
	cr_assert_eq(store_note_create(db, ann, &in, 100, &note, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(note.embedding_status, EMBED_PENDING);
	const char *btexts[] = {"bob's"};
	int64_t bobs = make_chunked(bob, "Bob", btexts, 1, 100);
	cr_assert_eq(note_status(ann, note.id), EMBED_PENDING);

	cr_assert_eq(store_embed_claim(db, 2, 1000, 500, &jobs, &n, &err), VERR_OK, "%s",
	             err.detail);
	cr_assert_eq(n, 2);
	cr_assert_lt(jobs[0].chunk_id, jobs[1].chunk_id, "oldest first");
	cr_assert_eq(jobs[0].user_id, ann);
	cr_assert_str_eq(jobs[0].title, "My title");
	cr_assert_str_eq(jobs[0].heading, "Intro");
	cr_assert_str_eq(jobs[0].text, "first text");
	cr_assert_str_eq(jobs[0].hash, "h1");
	cr_assert_eq(jobs[0].attempts, 0);
	cr_assert_str_eq(jobs[1].heading, "Intro > More");
	cr_assert_str_eq(jobs[1].hash, "h2");
	int64_t c1 = jobs[0].chunk_id, c2 = jobs[1].chunk_id;
	embed_jobs_free(jobs, n);

	/* Leased chunks are not handed out again: the next claim gets the rest. */
	cr_assert_eq(store_embed_claim(db, 10, 1000, 500, &jobs, &n, &err), VERR_OK, "%s",
	             err.detail);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(jobs[0].hash, "h3");
	cr_assert_eq(jobs[1].user_id, bob);
	cr_assert_str_eq(jobs[1].title, "Bob");
	embed_jobs_free(jobs, n);
	cr_assert_eq(claim(10, 1000, 500, NULL), 0);
	cr_assert_eq(claim(10, 1499, 500, NULL), 0);
	cr_assert_eq(claim(0, 5000, 500, NULL), 0, "limit 0 claims nothing");

	/* A worker that died: the lease runs out and the chunks come back. */
	cr_assert_eq(claim(10, 1500, 500, ids), 4);
	cr_assert_eq(ids[0], c1);
	cr_assert_eq(ids[1], c2);

	int64_t v = version_of(ann);
	embed(c1, "h1", "m", DIM, 1);
	cr_assert_eq(version_of(ann), v + 1);
	cr_assert_eq(note_status(ann, note.id), EMBED_PENDING, "two chunks still pending");
	embed(c2, "h2", "m", DIM, 2);
	embed(chunk_id("third"), "h3", "m", DIM, 3);
	cr_assert_eq(note_status(ann, note.id), EMBED_READY);
	cr_assert_eq(note_status(bob, bobs), EMBED_PENDING);
	cr_assert_eq(query_intf("SELECT status FROM chunks WHERE id = %lld", (long long)c1), 1);
	cr_assert_eq(
	    query_intf("SELECT length(embedding) FROM chunks WHERE id = %lld", (long long)c1),
	    DIM * 4);
	cr_assert_eq(claim(10, 99999, 500, ids), 1, "ready chunks leave the queue");
	cr_assert_eq(ids[0], chunk_id("bob's"));

	float v4[DIM] = {0};
	cr_assert_eq(embed_one(db, c1, "h1", "m", 0, v4, 1, &err), VERR_INVALID);
	cr_assert_eq(embed_one(db, c1, "h1", "", DIM, v4, 1, &err), VERR_INVALID);
	note_free(&note);
}

Test(store_sqlite, update_reembeds_only_changed_chunks)
{
	struct verror err = {0};
	struct vector_set vs;
	int64_t *cids = NULL;
	char **texts = NULL;
	size_t n;
	open_migrated(NULL);
	int64_t uid = make_user("ann@x.org");
	const char *v1[] = {"alpha", "beta", "gamma"};
	int64_t id = make_chunked(uid, "t", v1, 3, 1);
	int64_t a = chunk_id("alpha"), b = chunk_id("beta"), g = chunk_id("gamma");
	embed(a, "alpha", "m", DIM, 10);
	embed(b, "beta", "m", DIM, 20);
	embed(g, "gamma", "m", DIM, 30);
	cr_assert_eq(note_status(uid, id), EMBED_READY);

	/* beta edited into delta, gamma moved to the front, alpha unchanged. */
	const char *v2[] = {"gamma", "alpha", "delta"};
	cr_assert_eq(update_chunked(uid, id, "t", v2, 3, 2), EMBED_PENDING);
	cr_assert_eq(chunk_id("alpha"), a, "an unchanged chunk keeps its row");
	cr_assert_eq(chunk_id("gamma"), g);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM chunks WHERE text = 'beta'"), 0);
	cr_assert_eq(query_intf("SELECT status FROM chunks WHERE id = %lld", (long long)a), 1);
	cr_assert_eq(query_int("SELECT status FROM chunks WHERE text = 'delta'"), 0);
	cr_assert_eq(query_int("SELECT embedding IS NULL FROM chunks WHERE text = 'delta'"), 1);

	cr_assert_eq(store_note_chunks(db, uid, id, &cids, &texts, &n, &err), VERR_OK, "%s",
	             err.detail);
	cr_assert_eq(n, 3);
	cr_assert_eq(cids[0], g);
	cr_assert_str_eq(texts[0], "gamma");
	cr_assert_eq(cids[1], a);
	cr_assert_str_eq(texts[1], "alpha");
	cr_assert_str_eq(texts[2], "delta");
	for (size_t i = 0; i < n; i++)
		free(texts[i]);
	free(texts);
	free(cids);

	/* Only delta is queued; the kept vectors load in the new order. */
	int64_t ids[4];
	cr_assert_eq(claim(10, 100, 1000, ids), 1);
	cr_assert_eq(ids[0], chunk_id("delta"));
	cr_assert_eq(sqlite_vectors_load(db, uid, "m", DIM, &vs, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(vs.n, 2);
	cr_assert_eq(vs.chunk_ids[0], g);
	cr_assert_eq(vs.vecs[0], 30);
	cr_assert_eq(vs.chunk_ids[1], a);
	cr_assert_eq(vs.vecs[DIM], 10);
	vector_set_free(&vs);

	/* The same text twice keeps one row and adds one; no chunks at all empties the note. */
	const char *v3[] = {"alpha", "alpha"};
	cr_assert_eq(update_chunked(uid, id, "t", v3, 2, 3), EMBED_PENDING);
	cr_assert_eq(
	    query_intf("SELECT COUNT(*) FROM chunks WHERE id = %lld AND seq = 0", (long long)a), 1);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM chunks WHERE text = 'alpha' AND seq = 1 "
	                       "AND status = 0"),
	             1);
	cr_assert_eq(update_chunked(uid, id, "t", NULL, 0, 4), EMBED_READY);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM chunks"), 0);

	struct chunk_input bad = {"", "x",
	                          "0123456789012345678901234567890123456789012345678901234"
	                          "5678901234"};
	struct note_input in = {"t", "c", NULL, 0, &bad, 1};
	struct note out;
	cr_assert_eq(store_note_create(db, uid, &in, 5, &out, &err), VERR_INVALID, "65-char hash");
	cr_assert_eq(store_note_update(db, uid, id, &in, 5, &out, &err), VERR_INVALID);
}

Test(store_sqlite, embed_done_with_stale_hash_is_ignored)
{
	struct verror err = {0};
	float v[DIM] = {1, 0, 0, 0};
	open_migrated(NULL);
	int64_t uid = make_user("ann@x.org");
	const char *t1[] = {"old words"};
	int64_t id = make_chunked(uid, "t", t1, 1, 1);
	int64_t old = chunk_id("old words");
	cr_assert_eq(claim(1, 10, 1000, NULL), 1);

	/* The note changes while the worker embeds the old text. */
	const char *t2[] = {"new words"};
	update_chunked(uid, id, "t", t2, 1, 2);
	int64_t fresh = chunk_id("new words");
	int64_t ver = version_of(uid);
	cr_assert_eq(embed_one(db, old, "old words", "m", DIM, v, 3, &err), VERR_OK, "%s",
	             err.detail);
	cr_assert_eq(embed_one(db, fresh, "old words", "m", DIM, v, 3, &err), VERR_OK, "%s",
	             err.detail);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM chunks WHERE status = 1 OR embedding IS NOT "
	                       "NULL"),
	             0);
	cr_assert_eq(version_of(uid), ver, "nothing changed, no bump");
	cr_assert_eq(note_status(uid, id), EMBED_PENDING);
	cr_assert_eq(store_embed_failed(db, fresh, "old words", "boom", 50, true, &err), VERR_OK);
	cr_assert_eq(query_int("SELECT status + attempts FROM chunks"), 0);
}

/* A worker whose lease ran out reports failure after another embedded the chunk. */
Test(store_sqlite, embed_failed_leaves_a_ready_chunk_ready)
{
	struct verror err = {0};
	open_migrated(NULL);
	int64_t uid = make_user("ann@x.org");
	const char *texts[] = {"late"};
	int64_t id = make_chunked(uid, "t", texts, 1, 1);
	int64_t c = chunk_id("late");
	embed(c, "late", "m", DIM, 1);
	int64_t ver = version_of(uid);
	cr_assert_eq(store_embed_failed(db, c, "late", "timed out", 0, true, &err), VERR_OK, "%s",
	             err.detail);
	cr_assert_eq(note_status(uid, id), EMBED_READY, "a late failure undid a success");
	cr_assert_eq(version_of(uid), ver);
	cr_assert_eq(query_intf("SELECT attempts FROM chunks WHERE id = %lld", (long long)c), 0);
}

Test(store_sqlite, embed_failed_retries_then_gives_up)
{
	struct verror err = {0};
	struct embed_job *jobs = NULL;
	struct index_status is;
	size_t n;
	open_migrated(NULL);
	int64_t uid = make_user("ann@x.org");
	const char *texts[] = {"doomed", "fine"};
	int64_t id = make_chunked(uid, "t", texts, 2, 1);
	int64_t d = chunk_id("doomed");
	cr_assert_eq(claim(10, 100, 1000, NULL), 2);
	embed(chunk_id("fine"), "fine", "m", DIM, 1);

	int64_t ver = version_of(uid);
	cr_assert_eq(store_embed_failed(db, d, "doomed", "provider said 500", 5000, false, &err),
	             VERR_OK, "%s", err.detail);
	cr_assert_eq(version_of(uid), ver, "a retry changes no vector");
	cr_assert_eq(note_status(uid, id), EMBED_PENDING);
	cr_assert_eq(claim(10, 4999, 1000, NULL), 0, "not before retry_at, lease or not");
	cr_assert_eq(store_embed_claim(db, 10, 5000, 1000, &jobs, &n, &err), VERR_OK, "%s",
	             err.detail);
	cr_assert_eq(n, 1);
	cr_assert_eq(jobs[0].chunk_id, d);
	cr_assert_eq(jobs[0].attempts, 1);
	embed_jobs_free(jobs, n);
	cr_assert_eq(query_intf("SELECT error = 'provider said 500' FROM chunks WHERE id = %lld",
	                        (long long)d),
	             1);

	cr_assert_eq(store_embed_failed(db, d, "doomed", "still 500", 0, true, &err), VERR_OK, "%s",
	             err.detail);
	cr_assert_eq(version_of(uid), ver + 1);
	cr_assert_eq(
	    query_intf("SELECT status * 10 + attempts FROM chunks WHERE id = %lld", (long long)d),
	    22);
	cr_assert_eq(note_status(uid, id), EMBED_FAILED);
	cr_assert_eq(claim(10, 99999, 1000, NULL), 0, "failed chunks leave the queue");
	cr_assert_eq(store_index_status(db, uid, "m", DIM, &is, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(is.pending, 0);
	cr_assert_eq(is.ready, 1);
	cr_assert_eq(is.failed, 1);

	/* Pending outranks failed in a note's status. */
	const char *more[] = {"doomed", "fine", "new"};
	cr_assert_eq(update_chunked(uid, id, "t", more, 3, 2), EMBED_PENDING);
	cr_assert_eq(query_intf("SELECT status FROM chunks WHERE id = %lld", (long long)d), 2,
	             "an unchanged failed chunk stays failed");
}

Test(store_sqlite, reindex_keeps_vectors_until_replaced)
{
	struct verror err = {0};
	struct vector_set vs;
	int64_t count = -1;
	open_migrated(NULL);
	int64_t ann = make_user("ann@x.org");
	int64_t bob = make_user("bob@x.org");
	const char *at[] = {"a1", "a2"};
	const char *bt[] = {"b1"};
	int64_t an = make_chunked(ann, "a", at, 2, 1);
	make_chunked(bob, "b", bt, 1, 1);
	cr_assert_eq(claim(10, 1, 100000, NULL), 3);
	embed(chunk_id("a1"), "a1", "m", DIM, 1);
	embed(chunk_id("a2"), "a2", "m", DIM, 2);
	embed(chunk_id("b1"), "b1", "m", DIM, 3);
	exec_raw("UPDATE chunks SET attempts = 3");

	int64_t va = version_of(ann), vb = version_of(bob);
	cr_assert_eq(store_reindex(db, ann, &count, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(count, 2);
	cr_assert_eq(version_of(ann), va + 1);
	cr_assert_eq(version_of(bob), vb);
	cr_assert_eq(query_intf("SELECT COUNT(*) FROM chunks WHERE user_id = %lld AND status = 0 "
	                        "AND attempts = 0 AND next_attempt_at = 0 AND model = 'm' AND "
	                        "embedding IS NOT NULL",
	                        (long long)ann),
	             2);
	cr_assert_eq(note_status(ann, an), EMBED_PENDING);
	cr_assert_eq(query_int("SELECT status FROM chunks WHERE text = 'b1'"), 1);
	cr_assert_eq(sqlite_vectors_load(db, ann, "m", DIM, &vs, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(vs.n, 2, "old vectors answer while the reindex runs");
	vector_set_free(&vs);
	int64_t ids[4];
	cr_assert_eq(claim(10, 2, 1000, ids), 2, "leases were cleared too");

	cr_assert_eq(store_reindex(db, 0, &count, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(count, 3);
	cr_assert_eq(version_of(bob), vb + 1);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM chunks WHERE status = 0"), 3);
}

Test(store_sqlite, index_status_counts_and_stale)
{
	struct verror err = {0};
	struct index_status is;
	open_migrated(NULL);
	int64_t ann = make_user("ann@x.org");
	int64_t bob = make_user("bob@x.org");
	const char *texts[] = {"c1", "c2", "c3", "c4", "c5", "c6"};
	make_chunked(ann, "a", texts, 6, 1);
	const char *bt[] = {"b1"};
	make_chunked(bob, "b", bt, 1, 1);
	embed(chunk_id("c1"), "c1", "small", DIM, 1);
	embed(chunk_id("c2"), "c2", "small", DIM, 1);
	embed(chunk_id("c3"), "c3", "big", DIM, 1); /* another model */
	embed(chunk_id("c4"), "c4", "small", 8, 1); /* another dimension */
	cr_assert_eq(store_embed_failed(db, chunk_id("c5"), "c5", "x", 0, true, &err), VERR_OK);

	cr_assert_eq(store_index_status(db, ann, "small", DIM, &is, &err), VERR_OK, "%s",
	             err.detail);
	cr_assert_eq(is.pending, 1);
	cr_assert_eq(is.ready, 4);
	cr_assert_eq(is.failed, 1);
	cr_assert_eq(is.stale, 2);
	cr_assert_eq(store_index_status(db, ann, "big", DIM, &is, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(is.stale, 3);
	cr_assert_eq(store_index_status(db, 999, "small", DIM, &is, &err), VERR_OK, "%s",
	             err.detail);
	cr_assert_eq(is.pending + is.ready + is.failed + is.stale, 0);
}

Test(store_sqlite, index_version_follows_every_index_write)
{
	struct verror err = {0};
	struct store *other = NULL;
	int64_t v = -1;
	open_migrated(NULL);
	int64_t ann = make_user("ann@x.org");
	int64_t bob = make_user("bob@x.org");
	cr_assert_eq(version_of(ann), 0);

	const char *t[] = {"x"};
	int64_t id = make_chunked(ann, "t", t, 1, 1);
	cr_assert_eq(version_of(ann), 1, "create");
	update_chunked(ann, id, "t", t, 1, 2);
	cr_assert_eq(version_of(ann), 2, "update");
	cr_assert_eq(claim(1, 3, 100, NULL), 1);
	cr_assert_eq(version_of(ann), 2, "a claim changes no vector");
	embed(chunk_id("x"), "x", "m", DIM, 1);
	cr_assert_eq(version_of(ann), 3, "embed_done");
	cr_assert_eq(version_of(bob), 0, "another user's");

	/* Another handle on the file, as another process would see it. */
	cr_assert_eq(open_at("vault.db", NULL, &other, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(store_index_version(other, ann, &v, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(v, 3);
	cr_assert_eq(store_note_delete(db, ann, id, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(store_index_version(other, ann, &v, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(v, 4, "delete, seen at once by the other handle");
	store_close(other);

	cr_assert_eq(store_index_version(db, 4242, &v, &err), VERR_NOT_FOUND);
}

/* ---------------------------------------------------------------- search: vectors */

Test(store_sqlite, vectors_load_order_contents_and_filters)
{
	struct verror err = {0};
	struct vector_set vs;
	open_migrated(NULL);
	int64_t ann = make_user("ann@x.org");
	int64_t bob = make_user("bob@x.org");
	const char *t1[] = {"n1a", "n1b"};
	const char *t2[] = {"n2a", "n2b", "n2c"};
	int64_t n1 = make_chunked(ann, "one", t1, 2, 1);
	int64_t n2 = make_chunked(ann, "two", t2, 3, 2);
	const char *tb[] = {"bob1"};
	make_chunked(bob, "bob", tb, 1, 3);
	/* n1 gains a first chunk, inserted after n2's: the order is (note, seq), not id. */
	const char *t1b[] = {"n1z", "n1a", "n1b"};
	update_chunked(ann, n1, "one", t1b, 3, 4);

	embed(chunk_id("n2c"), "n2c", "m", DIM, 23);
	embed(chunk_id("n1b"), "n1b", "m", DIM, 12);
	embed(chunk_id("n1z"), "n1z", "m", DIM, 10);
	embed(chunk_id("n2a"), "n2a", "m", DIM, 21);
	embed(chunk_id("n1a"), "n1a", "other", DIM, 11); /* another model */
	embed(chunk_id("bob1"), "bob1", "m", DIM, 99);   /* another user */
	/* n2b stays pending without a vector */

	cr_assert_eq(sqlite_vectors_load(db, ann, "m", DIM, &vs, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(vs.n, 4);
	cr_assert_eq(vs.dim, DIM);
	const int64_t want_chunks[] = {chunk_id("n1z"), chunk_id("n1b"), chunk_id("n2a"),
	                               chunk_id("n2c")};
	const int64_t want_notes[] = {n1, n1, n2, n2};
	const float want_marks[] = {10, 12, 21, 23};
	for (size_t i = 0; i < 4; i++) {
		cr_assert_eq(vs.chunk_ids[i], want_chunks[i], "row %zu", i);
		cr_assert_eq(vs.note_ids[i], want_notes[i], "row %zu", i);
		float want[DIM];
		vec_make(want, DIM, want_marks[i]);
		cr_assert_arr_eq(&vs.vecs[i * DIM], want, sizeof(want), "row %zu", i);
	}
	cr_assert_eq((uintptr_t)vs.vecs % 64, 0);
	vector_set_free(&vs);

	cr_assert_eq(sqlite_vectors_load(db, ann, "other", DIM, &vs, &err), VERR_OK, "%s",
	             err.detail);
	cr_assert_eq(vs.n, 1);
	cr_assert_eq(vs.chunk_ids[0], chunk_id("n1a"));
	vector_set_free(&vs);

	cr_assert_eq(sqlite_vectors_load(db, ann, "m", 8, &vs, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(vs.n, 0);
	cr_assert_null(vs.vecs);
	cr_assert_null(vs.chunk_ids);
	vector_set_free(&vs);
	cr_assert_eq(sqlite_vectors_load(db, ann, "m", 0, &vs, &err), VERR_INVALID);
}

/* The user's notes by vector_search for q = (1, 0, 0, 0): each note's similarity is its best
 * marker. */
static size_t nearest(int64_t uid, struct vector_hit **hits)
{
	struct verror err = {0};
	const float q[DIM] = {1, 0, 0, 0};
	size_t n = 99;
	cr_assert_eq(store_vector_search(db, uid, "m", DIM, q, NULL, 0, false, 10, hits, &n, &err),
	             VERR_OK, "%s", err.detail);
	return n;
}

Test(store_sqlite, vector_search_refreshes_only_what_changed)
{
	struct verror err = {0};
	struct vector_hit *hits = NULL;
	int64_t count;
	size_t users, bytes;
	open_migrated(NULL);
	int64_t ann = make_user("ann@x.org");
	const char *t1[] = {"a1", "a2"}, *t2[] = {"b1"}, *t3[] = {"c1"};
	int64_t n1 = make_chunked(ann, "one", t1, 2, 1);
	int64_t n2 = make_chunked(ann, "two", t2, 1, 2);
	embed(chunk_id("a1"), "a1", "m", DIM, 1);
	embed(chunk_id("a2"), "a2", "m", DIM, 2);
	embed(chunk_id("b1"), "b1", "m", DIM, 3);

	cr_assert_eq(nearest(ann, &hits), 2);
	cr_assert_eq(hits[0].note_id, n2);
	cr_assert_float_eq(hits[0].similarity, 3, 1e-6);
	cr_assert_eq(hits[1].note_id, n1);
	cr_assert_eq(hits[1].chunk_id, chunk_id("a2"));
	cr_assert_float_eq(hits[1].similarity, 2, 1e-6);
	free(hits);
	vector_cache_usage(db, &users, &bytes);
	cr_assert_eq(users, 1);
	cr_assert_eq(bytes, 3 * (DIM * sizeof(float) + 2 * sizeof(int64_t)));

	/* a2's row changes behind the store's back (no version stamp): a search
	 * after the next write reads only what that write changed, so it still
	 * sees a2 as cached; reloading everything would see 3 there. */
	exec_raw("UPDATE chunks SET embedding = (SELECT embedding FROM chunks WHERE text = 'b1') "
	         "WHERE text = 'a2'");
	int64_t n3 = make_chunked(ann, "three", t3, 1, 3);
	embed(chunk_id("c1"), "c1", "m", DIM, 5);
	cr_assert_eq(nearest(ann, &hits), 3);
	cr_assert_eq(hits[0].note_id, n3, "a vector written since is found");
	cr_assert_float_eq(hits[0].similarity, 5, 1e-6);
	cr_assert_eq(hits[1].note_id, n2);
	cr_assert_eq(hits[2].note_id, n1);
	cr_assert_float_eq(hits[2].similarity, 2, 1e-6, "the unchanged rows came from the cache");
	free(hits);

	/* A deleted note's vectors go; a vector replaced under the same chunk id is seen. */
	cr_assert_eq(store_note_delete(db, ann, n2, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(nearest(ann, &hits), 2);
	cr_assert_eq(hits[0].note_id, n3);
	cr_assert_eq(hits[1].note_id, n1);
	free(hits);
	cr_assert_eq(store_reindex(db, ann, &count, &err), VERR_OK, "%s", err.detail);
	embed(chunk_id("a1"), "a1", "m", DIM, 7);
	cr_assert_eq(nearest(ann, &hits), 2);
	cr_assert_eq(hits[0].note_id, n1);
	cr_assert_eq(hits[0].chunk_id, chunk_id("a1"));
	cr_assert_float_eq(hits[0].similarity, 7, 1e-6);
	free(hits);

	/* A chunk new in the middle (n1 gains a first chunk: its rows move up in
	 * place), then n1's chunks reordered (the rows change order: a copy). */
	const char *t1b[] = {"a0", "a1", "a2"};
	update_chunked(ann, n1, "one", t1b, 3, 4);
	embed(chunk_id("a0"), "a0", "m", DIM, 9);
	cr_assert_eq(nearest(ann, &hits), 2);
	cr_assert_eq(hits[0].note_id, n1);
	cr_assert_eq(hits[0].chunk_id, chunk_id("a0"));
	cr_assert_float_eq(hits[0].similarity, 9, 1e-6);
	cr_assert_eq(hits[1].note_id, n3);
	cr_assert_float_eq(hits[1].similarity, 5, 1e-6);
	free(hits);
	const char *t1c[] = {"a2", "a0", "a1"};
	update_chunked(ann, n1, "one", t1c, 3, 5);
	embed(chunk_id("a2"), "a2", "m", DIM, 2); /* its bytes in the database right again */
	cr_assert_eq(nearest(ann, &hits), 2);
	cr_assert_eq(hits[0].chunk_id, chunk_id("a0"));
	free(hits);
	/* The rows vectors_load reads, and only those. */
	struct vector_set vs;
	cr_assert_eq(sqlite_vectors_load(db, ann, "m", DIM, &vs, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(vs.n, 4);
	for (size_t i = 0; i < vs.n; i++)
		cr_assert_eq(vs.note_ids[i], vs.chunk_ids[i] == chunk_id("c1") ? n3 : n1);
	vector_set_free(&vs);
	size_t users2, bytes2;
	vector_cache_usage(db, &users2, &bytes2);
	cr_assert_eq(bytes2, 4 * (DIM * sizeof(float) + 2 * sizeof(int64_t)));
}

/*
 * vector_notes: a note whose rows with vectors go (deleted, moved) is
 * recorded at the version after its write, once; nothing is kept for a
 * deleted user; past 1,024 versions the oldest go, and a cache older than
 * what is kept loads afresh instead of missing a change.
 */
Test(store_sqlite, vector_notes_record_changes_and_forget_old_ones)
{
	struct verror err = {0};
	struct vector_hit *hits = NULL;
	open_migrated(NULL);
	int64_t ann = make_user("ann@x.org"), bob = make_user("bob@x.org");
	const char *t1[] = {"a1", "a2"}, *t2[] = {"b1"}, *tb[] = {"x1"};
	int64_t n1 = make_chunked(ann, "one", t1, 2, 1);
	int64_t n2 = make_chunked(ann, "two", t2, 1, 2);
	make_chunked(bob, "bob's", tb, 1, 3);
	embed(chunk_id("a1"), "a1", "m", DIM, 1);
	embed(chunk_id("a2"), "a2", "m", DIM, 2);
	embed(chunk_id("b1"), "b1", "m", DIM, 3);
	embed(chunk_id("x1"), "x1", "m", DIM, 4);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM vector_notes"), 0,
	             "new vectors need no record");

	/* A note with two vectors deleted: one row, at the version its write made. */
	cr_assert_eq(store_note_delete(db, ann, n2, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(query_intf("SELECT COUNT(*) FROM vector_notes WHERE user_id = %lld AND "
	                        "note_id = %lld AND version = %lld",
	                        (long long)ann, (long long)n2, (long long)version_of(ann)),
	             1);
	/* Chunks moved within a note (a new first one): recorded too. */
	const char *t1b[] = {"a0", "a1", "a2"};
	update_chunked(ann, n1, "one", t1b, 3, 4);
	cr_assert_eq(query_intf("SELECT COUNT(*) FROM vector_notes WHERE note_id = %lld AND "
	                        "version = %lld",
	                        (long long)n1, (long long)version_of(ann)),
	             1);
	cr_assert_eq(store_user_delete(db, bob, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(
	    query_intf("SELECT COUNT(*) FROM vector_notes WHERE user_id = %lld", (long long)bob),
	    0);

	/* The cache at this version; then a2's bytes change behind the store's back. */
	cr_assert_eq(nearest(ann, &hits), 1);
	cr_assert_float_eq(hits[0].similarity, 2, 1e-6);
	free(hits);
	exec_raw("UPDATE chunks SET embedding = (SELECT embedding FROM chunks WHERE text = 'a1') "
	         "WHERE text = 'a2'");
	/* 1,000 versions later the changes since are all still known: the cache refreshes. */
	exec_raw("UPDATE users SET index_version = index_version + 1000 WHERE email = 'ann@x.org'");
	cr_assert_eq(query_int("SELECT vector_notes_from FROM users WHERE email = 'ann@x.org'"), 0);
	cr_assert_eq(nearest(ann, &hits), 1);
	cr_assert_float_eq(hits[0].similarity, 2, 1e-6, "the cached a2");
	free(hits);
	/* At 2,048 the versions up to 1,024 are forgotten, the cache's among them: it loads. */
	exec_raw("UPDATE users SET index_version = 2048 WHERE email = 'ann@x.org'");
	cr_assert_eq(query_int("SELECT vector_notes_from FROM users WHERE email = 'ann@x.org'"),
	             1024);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM vector_notes"), 0);
	cr_assert_eq(nearest(ann, &hits), 1);
	cr_assert_float_eq(hits[0].similarity, 1, 1e-6, "a2 as the database has it now");
	free(hits);
}

Test(store_sqlite, vector_cache_keeps_its_budget)
{
	struct vector_hit *hits = NULL;
	size_t users, bytes, row = DIM * sizeof(float) + 2 * sizeof(int64_t);
	struct store_opts opts = {.vector_cache_bytes = 5 * row};
	open_migrated(&opts);
	const char *texts[][3] = {{"a1", "a2"}, {"b1", "b2"}, {"c1", "c2"}, {"d1", "d2", "d3"}};
	int64_t uid[4], note[4];
	const char *emails[] = {"a@x.org", "b@x.org", "c@x.org", "d@x.org"};
	for (int u = 0; u < 4; u++) {
		uid[u] = make_user(emails[u]);
		size_t n = u == 3 ? 3 : 2;
		note[u] = make_chunked(uid[u], "t", texts[u], n, 1);
		for (size_t k = 0; k < n; k++)
			embed(chunk_id(texts[u][k]), texts[u][k], "m", DIM,
			      (float)(10 * u + k + 1));
	}

	/* Two users of two rows fit in five rows' bytes; a third pushes out the least recent. */
	for (int u = 0; u < 2; u++) {
		cr_assert_eq(nearest(uid[u], &hits), 1);
		free(hits);
	}
	vector_cache_usage(db, &users, &bytes);
	cr_assert_eq(users, 2);
	cr_assert_eq(bytes, 4 * row);
	cr_assert_eq(nearest(uid[0], &hits), 1); /* a is now more recent than b */
	free(hits);
	cr_assert_eq(nearest(uid[2], &hits), 1);
	cr_assert_eq(hits[0].note_id, note[2]);
	cr_assert_float_eq(hits[0].similarity, 22, 1e-6);
	free(hits);
	vector_cache_usage(db, &users, &bytes);
	cr_assert_eq(users, 2);
	cr_assert_leq(bytes, 5 * row);

	/* b was dropped, not a: b's search loads it again and drops a (now the least recent). */
	cr_assert_eq(nearest(uid[1], &hits), 1);
	cr_assert_float_eq(hits[0].similarity, 12, 1e-6);
	free(hits);
	vector_cache_usage(db, &users, &bytes);
	cr_assert_eq(users, 2);

	/* Three rows and another user's two pass the budget: d is answered, and what is kept fits.
	 */
	cr_assert_eq(nearest(uid[3], &hits), 1);
	cr_assert_float_eq(hits[0].similarity, 33, 1e-6);
	free(hits);
	vector_cache_usage(db, &users, &bytes);
	cr_assert_leq(bytes, 5 * row);
	cr_assert_geq(users, 1);
	for (int u = 0; u < 4; u++) {
		cr_assert_eq(nearest(uid[u], &hits), 1, "user %d", u);
		cr_assert_eq(hits[0].note_id, note[u]);
		free(hits);
	}
	vector_cache_usage(db, &users, &bytes);
	cr_assert_leq(bytes, 5 * row);
}

/* ---------------------------------------------------------------- search: vectors past the exact
 * scan */

#define QDIM 96 /* two code words, the second half used: the tail bits count */

static uint64_t qrng = 42;

/* A deterministic unit vector, uniform on the sphere's orthants (splitmix64). */
static void qvec_random(float *v)
{
	for (int d = 0; d < QDIM; d++) {
		uint64_t z = (qrng += 0x9e3779b97f4a7c15ULL);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		v[d] = (float)((double)((z ^ (z >> 31)) >> 11) / 9007199254740992.0 - 0.5);
	}
	vec_normalize(v, QDIM);
}

/* near = unit(base + eps * a random vector). */
static void qvec_near(const float *base, float eps, float *near)
{
	qvec_random(near);
	for (int d = 0; d < QDIM; d++)
		near[d] = base[d] + eps * near[d];
	vec_normalize(near, QDIM);
}

/* A note of n chunks "<title>.<k>", each embedded with its row of vecs (model "m"). */
static int64_t qnote(int64_t uid, const char *title, const float *vecs, size_t n)
{
	struct verror err = {0};
	char texts[16][48];
	const char *tp[16];
	cr_assert_leq(n, 16);
	for (size_t k = 0; k < n; k++) {
		snprintf(texts[k], sizeof(texts[k]), "%s.%zu", title, k);
		tp[k] = texts[k];
	}
	int64_t id = make_chunked(uid, title, tp, n, 1);
	for (size_t k = 0; k < n; k++)
		cr_assert_eq(
		    embed_one(db, chunk_id(tp[k]), tp[k], "m", QDIM, vecs + k * QDIM, 9000, &err),
		    VERR_OK, "%s", err.detail);
	return id;
}

/*
 * The answer of an exact scan of what the database holds (every vector of
 * the user, sqlite_vectors_load), each note at its best chunk, best first,
 * at most limit; with filter, only the notes of only (sorted). Caller frees.
 */
static size_t qbrute(int64_t uid, const float *q, const int64_t *only, size_t nonly, bool filter,
                     size_t limit, struct vector_hit **out)
{
	struct verror err = {0};
	struct vector_set vs;
	cr_assert_eq(sqlite_vectors_load(db, uid, "m", QDIM, &vs, &err), VERR_OK, "%s", err.detail);
	struct vector_hit *hits = calloc(vs.n + 1, sizeof(*hits));
	size_t n = 0;
	for (size_t i = 0; i < vs.n; i++) {
		bool in = !filter;
		for (size_t k = 0; k < nonly && !in; k++)
			in = only[k] == vs.note_ids[i];
		if (!in)
			continue;
		float sim;
		vec_dot_many(q, vs.vecs + i * QDIM, 1, QDIM, &sim);
		if (n && hits[n - 1].note_id == vs.note_ids[i]) {
			if (sim > hits[n - 1].similarity)
				hits[n - 1] =
				    (struct vector_hit){vs.note_ids[i], vs.chunk_ids[i], sim};
		} else {
			hits[n++] = (struct vector_hit){vs.note_ids[i], vs.chunk_ids[i], sim};
		}
	}
	for (size_t i = 1; i < n; i++) /* insertion sort: best first, then by note */
		for (size_t j = i; j > 0 && (hits[j].similarity > hits[j - 1].similarity ||
		                             (hits[j].similarity == hits[j - 1].similarity &&
		                              hits[j].note_id < hits[j - 1].note_id));
		     j--) {
			struct vector_hit t = hits[j];
			hits[j] = hits[j - 1];
			hits[j - 1] = t;
		}
	vector_set_free(&vs);
	*out = hits;
	return n < limit ? n : limit;
}

/* store_vector_search's answer equals the exact scan's: the same notes, chunks and similarities. */
static void qcheck(int64_t uid, const float *q, const int64_t *only, size_t nonly, bool filter,
                   size_t limit, const char *what)
{
	struct verror err = {0};
	struct vector_hit *got = NULL, *want = NULL;
	size_t n = 0, nwant = qbrute(uid, q, only, nonly, filter, limit, &want);
	cr_assert_eq(
	    store_vector_search(db, uid, "m", QDIM, q, only, nonly, filter, limit, &got, &n, &err),
	    VERR_OK, "%s: %s", what, err.detail);
	cr_assert_eq(n, nwant, "%s: %zu hits, want %zu", what, n, nwant);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(got[i].note_id, want[i].note_id, "%s: hit %zu", what, i);
		cr_assert_eq(got[i].chunk_id, want[i].chunk_id, "%s: hit %zu", what, i);
		cr_assert_float_eq(got[i].similarity, want[i].similarity, 1e-6, "%s: hit %zu", what,
		                   i);
	}
	free(got);
	free(want);
}

/* Bytes the cache counts for n rows of QDIM, with sign codes or not. */
static size_t qbytes(size_t n, bool codes)
{
	size_t row = QDIM * sizeof(float) + 2 * sizeof(int64_t);
	return n * row +
	       (codes ? n * VEC_CODE_WORDS(QDIM) * sizeof(uint64_t) + QDIM * sizeof(float) : 0);
}

/*
 * 240 notes of random vectors (some of three chunks), and ten planted
 * near q: the codes path must find exactly those ten, each at its near
 * chunk, in the exact scan's order and similarities; and the
 * plain C loop answers the same as the CPU's instructions.
 */
Test(store_sqlite, vector_search_codes_find_the_exact_top)
{
	struct vector_hit *hits = NULL;
	size_t users, bytes, n = 99;
	struct verror err = {0};
	float q[QDIM], v[3 * QDIM];
	open_migrated(NULL);
	vector_cache_tune(db, &(struct vector_tuning){100, 128, SIZE_MAX});
	int64_t ann = make_user("ann@x.org");
	size_t rows = 0;
	for (int i = 0; i < 240; i++) {
		char title[32];
		size_t k = i % 7 == 0 ? 3 : 1;
		for (size_t j = 0; j < k; j++)
			qvec_random(v + j * QDIM);
		snprintf(title, sizeof(title), "r%d", i);
		qnote(ann, title, v, k);
		rows += k;
	}
	qvec_random(q);
	int64_t planted[10];
	for (int i = 0; i < 10; i++) {
		char title[32];
		qvec_random(v); /* a far first chunk: the note is at its best one */
		qvec_near(q, 0.05f * (float)(i + 1), v + QDIM);
		snprintf(title, sizeof(title), "p%d", i);
		planted[i] = qnote(ann, title, v, 2);
		rows += 2;
	}

	/* Only 40 rows of 310 scored exactly (4 a hit): the codes alone must bring the ten. */
	vector_cache_tune(db, &(struct vector_tuning){100, 1, SIZE_MAX});
	cr_assert_eq(
	    store_vector_search(db, ann, "m", QDIM, q, NULL, 0, false, 10, &hits, &n, &err),
	    VERR_OK, "%s", err.detail);
	vector_cache_tune(db, &(struct vector_tuning){100, 128, SIZE_MAX});
	cr_assert_eq(n, 10);
	for (int i = 0; i < 10; i++) {
		int p = 0;
		while (p < 10 && planted[p] != hits[i].note_id)
			p++;
		cr_assert_lt(p, 10, "hit %d is a planted note", i);
		char text[32];
		snprintf(text, sizeof(text), "p%d.1", p);
		cr_assert_eq(hits[i].chunk_id, chunk_id(text), "hit %d at its near chunk", i);
		planted[p] = 0;
	}
	free(hits);
	vector_cache_usage(db, &users, &bytes);
	cr_assert_eq(bytes, qbytes(rows, true), "the codes are counted");

	qcheck(ann, q, NULL, 0, false, 10, "planted");
	for (int i = 0; i < 5; i++) {
		float r[QDIM];
		qvec_random(r);
		qcheck(ann, r, NULL, 0, false, 10, "random query");
		qcheck(ann, r, NULL, 0, false, 3, "random query, 3");
	}
	vecmath_force_plain(true);
	qcheck(ann, q, NULL, 0, false, 10, "planted, plain C");
	vecmath_force_plain(false);
	/* More hits than the candidates hold at first: every note, in order. */
	qcheck(ann, q, NULL, 0, false, 1000, "every note");
}

/* At the threshold the scan is exact (no codes); one row more and codes are made; fewer, gone. */
Test(store_sqlite, vector_search_threshold_boundary)
{
	struct vector_hit *hits = NULL;
	size_t users, bytes;
	float v[QDIM], q[QDIM];
	struct verror err = {0};
	open_migrated(NULL);
	vector_cache_tune(db, &(struct vector_tuning){40, 128, SIZE_MAX});
	int64_t ann = make_user("ann@x.org");
	int64_t notes[41];
	for (int i = 0; i < 40; i++) {
		char title[32];
		snprintf(title, sizeof(title), "r%d", i);
		qvec_random(v);
		notes[i] = qnote(ann, title, v, 1);
	}
	qvec_random(q);
	qcheck(ann, q, NULL, 0, false, 10, "40 rows");
	vector_cache_usage(db, &users, &bytes);
	cr_assert_eq(bytes, qbytes(40, false), "at the threshold: no codes");

	qvec_random(v);
	notes[40] = qnote(ann, "r40", v, 1);
	qcheck(ann, q, NULL, 0, false, 10, "41 rows");
	vector_cache_usage(db, &users, &bytes);
	cr_assert_eq(bytes, qbytes(41, true), "one past it: codes, made on the refresh");

	cr_assert_eq(store_note_delete(db, ann, notes[0], &err), VERR_OK, "%s", err.detail);
	qcheck(ann, q, NULL, 0, false, 10, "40 rows again");
	vector_cache_usage(db, &users, &bytes);
	cr_assert_eq(bytes, qbytes(40, false), "back at the threshold: codes dropped");
	(void)hits;
}

/* The user's nearest note to q when the codes pick only 4 rows to score: its code must be right. */
static int64_t qtop(int64_t uid, const float *q)
{
	struct verror err = {0};
	struct vector_hit *hits = NULL;
	size_t n = 0;
	vector_cache_tune(db, &(struct vector_tuning){30, 1, SIZE_MAX});
	cr_assert_eq(store_vector_search(db, uid, "m", QDIM, q, NULL, 0, false, 1, &hits, &n, &err),
	             VERR_OK, "%s", err.detail);
	vector_cache_tune(db, &(struct vector_tuning){30, 128, SIZE_MAX});
	cr_assert_eq(n, 1);
	int64_t id = hits[0].note_id;
	free(hits);
	return id;
}

/*
 * Edits after the codes are made: new rows (in the middle and at the end),
 * a vector replaced under the same chunk, deleted notes; each search
 * refreshes the cached set, and it answers as the exact scan of the
 * database does, the edited rows' codes included.
 */
Test(store_sqlite, vector_search_codes_follow_edits)
{
	struct verror err = {0};
	float v[3 * QDIM], q[QDIM];
	int64_t count;
	open_migrated(NULL);
	vector_cache_tune(db, &(struct vector_tuning){30, 128, SIZE_MAX});
	int64_t ann = make_user("ann@x.org");
	int64_t notes[80];
	for (int i = 0; i < 80; i++) {
		char title[32];
		snprintf(title, sizeof(title), "r%d", i);
		qvec_random(v);
		qvec_random(v + QDIM);
		notes[i] = qnote(ann, title, v, 2);
	}
	qvec_random(q);
	qcheck(ann, q, NULL, 0, false, 5, "loaded");

	/* A new note near q: found at once, through its code. */
	qvec_near(q, 0.01f, v);
	int64_t near = qnote(ann, "near", v, 1);
	cr_assert_eq(qtop(ann, q), near);
	qcheck(ann, q, NULL, 0, false, 5, "a note added");

	/* An old note's chunks replaced: its rows change in the middle of the set. */
	const char *t[] = {"r10.a", "r10.b", "r10.c"};
	update_chunked(ann, notes[10], "r10", t, 3, 2);
	qvec_near(q, 0.005f, v);
	for (int k = 0; k < 3; k++) {
		if (k)
			qvec_random(v + k * QDIM);
		cr_assert_eq(
		    embed_one(db, chunk_id(t[k]), t[k], "m", QDIM, v + k * QDIM, 9000, &err),
		    VERR_OK, "%s", err.detail);
	}
	qcheck(ann, q, NULL, 0, false, 5, "a note's chunks replaced");
	cr_assert_eq(qtop(ann, q), notes[10], "its new chunk, nearest of all");

	/* A vector replaced under the same chunk id (a reindex), and notes deleted. */
	cr_assert_eq(store_reindex(db, ann, &count, &err), VERR_OK, "%s", err.detail);
	qvec_near(q, 0.001f, v);
	cr_assert_eq(embed_one(db, chunk_id("r50.1"), "r50.1", "m", QDIM, v, 9000, &err), VERR_OK,
	             "%s", err.detail);
	cr_assert_eq(store_note_delete(db, ann, near, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(store_note_delete(db, ann, notes[3], &err), VERR_OK, "%s", err.detail);
	qcheck(ann, q, NULL, 0, false, 5, "a vector replaced, notes deleted");
	cr_assert_eq(qtop(ann, q), notes[50]);
	for (int i = 0; i < 5; i++) {
		float r[QDIM];
		qvec_random(r);
		qcheck(ann, r, NULL, 0, false, 10, "random query after edits");
	}
}

/* filter past the exact scan: only the notes of only, as the exact scan finds them. */
Test(store_sqlite, vector_search_codes_keep_filters)
{
	struct verror err = {0};
	struct vector_hit *hits = NULL;
	size_t n = 99;
	float v[QDIM], q[QDIM];
	open_migrated(NULL);
	vector_cache_tune(db, &(struct vector_tuning){30, 128, SIZE_MAX});
	int64_t ann = make_user("ann@x.org");
	int64_t notes[120], only[60];
	qvec_random(q);
	for (int i = 0; i < 120; i++) {
		char title[32];
		snprintf(title, sizeof(title), "r%d", i);
		if (i % 2 == 0)
			qvec_near(q, 0.02f * (float)(i + 1), v); /* the even ones are nearest */
		else
			qvec_random(v);
		notes[i] = qnote(ann, title, v, 1);
	}
	/* The odd notes (every other one: the codes path, not the few-notes lookup), unsorted. */
	for (int i = 0; i < 60; i++)
		only[i] = notes[119 - 2 * i];
	qcheck(ann, q, only, 60, true, 10, "odd notes only");
	cr_assert_eq(
	    store_vector_search(db, ann, "m", QDIM, q, only, 60, true, 200, &hits, &n, &err),
	    VERR_OK, "%s", err.detail);
	cr_assert_eq(n, 60, "every note of only, none other");
	for (size_t i = 0; i < n; i++) {
		bool in = false;
		for (int k = 0; k < 60; k++)
			in = in || hits[i].note_id == only[k];
		cr_assert(in, "hit %zu is in only", i);
	}
	free(hits);
	/* A few notes (the lookup by note), none, and a note of nobody's. */
	int64_t few[] = {notes[7], notes[8], 999999};
	qcheck(ann, q, few, 3, true, 10, "three notes");
	cr_assert_eq(store_vector_search(db, ann, "m", QDIM, q, few, 0, true, 10, &hits, &n, &err),
	             VERR_OK, "%s", err.detail);
	cr_assert_eq(n, 0, "filter with no notes: none");
	free(hits);
}

/* Searches from one thread of the split test: each answer's first hit, or -1 on error. */
struct qsearcher {
	int64_t uid;
	const float *qs; /* 8 queries */
	int64_t first[8];
};

static void *qsearch_thread(void *arg)
{
	struct qsearcher *w = arg;
	for (int r = 0; r < 8; r++) {
		struct verror err = {0};
		struct vector_hit *hits = NULL;
		size_t n = 0;
		w->first[r] = store_vector_search(db, w->uid, "m", QDIM, w->qs + r * QDIM, NULL, 0,
		                                  false, 5, &hits, &n, &err) ||
		                      n == 0
		                  ? -1
		                  : hits[0].note_id;
		free(hits);
	}
	return NULL;
}

/*
 * Every scan split over two threads (the helper takes the second half of
 * the rows): the answers are the exact scan's, alone and with two searches
 * at once (one finds the helper busy and scans alone).
 */
Test(store_sqlite, vector_search_split_over_two_threads)
{
	float v[QDIM], qs[8 * QDIM];
	open_migrated(NULL);
	vector_cache_tune(db, &(struct vector_tuning){30, 128, 1});
	int64_t ann = make_user("ann@x.org");
	int64_t notes[8];
	for (int i = 0; i < 8; i++)
		qvec_random(qs + i * QDIM);
	for (int i = 0; i < 200; i++) {
		char title[32];
		snprintf(title, sizeof(title), "r%d", i);
		if (i % 25 == 0)
			qvec_near(qs + (i / 25) * QDIM, 0.01f, v); /* query i / 25's nearest */
		else
			qvec_random(v);
		int64_t id = qnote(ann, title, v, 1);
		if (i % 25 == 0)
			notes[i / 25] = id;
	}
	for (int i = 0; i < 8; i++)
		qcheck(ann, qs + i * QDIM, NULL, 0, false, 10, "split");
	struct qsearcher w[2] = {{ann, qs, {0}}, {ann, qs, {0}}};
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, qsearch_thread, &w[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < 2; i++)
		for (int r = 0; r < 8; r++)
			cr_assert_eq(w[i].first[r], notes[r], "thread %d query %d", i, r);
}

/* The sign code's bits, and the Hamming distances of both loops, against a count bit by bit. */
Test(store_sqlite, vecmath_codes_and_hamming)
{
	float v[130], c[130];
	for (int d = 0; d < 130; d++) {
		v[d] = (float)(d % 3) - 1.0f; /* -1, 0, 1, ... */
		c[d] = 0;
	}
	uint64_t code[3];
	vec_sign_code(v, c, 130, code);
	for (int d = 0; d < 192; d++)
		cr_assert_eq((code[d / 64] >> (d % 64)) & 1, d < 130 && d % 3 == 2, "bit %d", d);

	/* Up to 25 words: whole blocks of eight, a masked rest; 50 rows: groups of 8 and 2 left. */
	uint64_t q[25], codes[50 * 25];
	for (size_t i = 0; i < 25; i++)
		q[i] = 0x9e3779b97f4a7c15ULL * (i + 1);
	for (size_t i = 0; i < 50 * 25; i++)
		codes[i] = 0xbf58476d1ce4e5b9ULL * (i + 3) ^ (i << 17);
	for (size_t words = 1; words <= 25; words++) {
		uint16_t fast[50], plain[50];
		vec_hamming_many(q, codes, 50, words, fast);
		vecmath_force_plain(true);
		vec_hamming_many(q, codes, 50, words, plain);
		vecmath_force_plain(false);
		for (size_t i = 0; i < 50; i++) {
			unsigned want = 0;
			for (size_t w = 0; w < words; w++)
				for (int b = 0; b < 64; b++)
					want += ((q[w] ^ codes[i * words + w]) >> b) & 1;
			cr_assert_eq(fast[i], want, "words %zu row %zu", words, i);
			cr_assert_eq(plain[i], want, "plain: words %zu row %zu", words, i);
		}
	}
}

/* ---------------------------------------------------------------- search: keywords */

static int64_t make_text_note(int64_t uid, const char *title, const char *content,
                              const char *const *tags, size_t ntags)
{
	struct verror err = {0};
	struct note_input in = {title, content, tags, ntags};
	struct note n;
	cr_assert_eq(store_note_create(db, uid, &in, 1, &n, &err), VERR_OK, "%s", err.detail);
	int64_t id = n.id;
	note_free(&n);
	return id;
}

/*
 * Runs a keyword search for the space-separated terms of words, or for them
 * as one phrase, expecting success; caller frees *hits.
 */
static size_t search_for(int64_t uid, const char *words, bool phrase, const char *const *tags,
                         size_t ntags, size_t limit, struct keyword_hit **hits)
{
	struct verror err = {0};
	char *copy = strdup(words), *save = NULL;
	const char *terms[16];
	size_t nterms = 0, n = 99;
	for (char *t = strtok_r(copy, " ", &save); t && nterms < 16; t = strtok_r(NULL, " ", &save))
		terms[nterms++] = t;
	cr_assert_eq(store_keyword_search(db, uid, terms, nterms, phrase, tags, ntags, limit, hits,
	                                  &n, &err),
	             VERR_OK, "%s: %s", words, err.detail);
	free(copy);
	return n;
}

static size_t search(int64_t uid, const char *words, const char *const *tags, size_t ntags,
                     size_t limit, struct keyword_hit **hits)
{
	return search_for(uid, words, false, tags, ntags, limit, hits);
}

Test(store_sqlite, keyword_search_ranks_scopes_and_filters)
{
	struct verror err = {0};
	struct keyword_hit *hits = NULL;
	size_t n;
	open_migrated(NULL);
	int64_t ann = make_user("ann@x.org");
	int64_t bob = make_user("bob@x.org");
	const char *ops[] = {"ops"};
	const char *ops_home[] = {"ops", "home"};
	/* Filler, so that the terms below are rare and BM25 is meaningful. */
	for (int i = 0; i < 8; i++)
		make_text_note(ann, "Groceries", "milk eggs bread and butter", NULL, 0);
	int64_t body =
	    make_text_note(ann, "Weekly notes",
	                   "we talked about kubernetes briefly, then lunch and more lunch "
	                   "and a long walk along the river",
	                   ops, 1);
	int64_t title = make_text_note(ann, "Kubernetes", "deploying pods", ops_home, 2);
	int64_t tagged = make_text_note(ann, "Cluster", "nodes", (const char *[]){"kubernetes"}, 1);
	make_text_note(bob, "Kubernetes kubernetes", "kubernetes", ops, 1);

	cr_assert_eq(search(ann, "kubernetes", NULL, 0, 10, &hits), 3);
	cr_assert_eq(hits[0].note_id, title, "a title match ranks first");
	cr_assert_eq(hits[1].note_id, tagged, "a tag outweighs the body");
	cr_assert_eq(hits[2].note_id, body);
	cr_assert_gt(hits[0].score, hits[1].score);
	cr_assert_gt(hits[1].score, hits[2].score);
	cr_assert_gt(hits[2].score, 0);
	free(hits);

	cr_assert_eq(search(ann, "kubernetes", NULL, 0, 1, &hits), 1, "limit");
	cr_assert_eq(hits[0].note_id, title);
	free(hits);

	/* Tags: all of them must be on the note. */
	cr_assert_eq(search(ann, "kubernetes", ops, 1, 10, &hits), 2);
	cr_assert_eq(hits[0].note_id, title);
	cr_assert_eq(hits[1].note_id, body);
	free(hits);
	cr_assert_eq(search(ann, "kubernetes", ops_home, 2, 10, &hits), 1);
	cr_assert_eq(hits[0].note_id, title);
	free(hits);
	const char *nope[] = {"ops", "nope"};
	cr_assert_eq(search(ann, "kubernetes", nope, 2, 10, &hits), 0);
	free(hits);

	/* Stemming and diacritics. */
	cr_assert_eq(search(ann, "deploy", NULL, 0, 10, &hits), 1);
	cr_assert_eq(hits[0].note_id, title);
	free(hits);
	make_text_note(ann, "Café", "crème brûlée", NULL, 0);
	cr_assert_eq(search(ann, "cafe creme", NULL, 0, 10, &hits), 1);
	free(hits);

	/* Never another user's notes, whatever the expression. */
	cr_assert_eq(search(bob, "kubernetes milk nodes", NULL, 0, 10, &hits), 1);
	cr_assert_neq(hits[0].note_id, title);
	free(hits);
	cr_assert_eq(search(ann, "user_id : 2", NULL, 0, 10, &hits), 0);
	free(hits);

	/* Terms are words, never FTS5 syntax: operators and quotes are plain text. */
	cr_assert_eq(search(ann, "AND", NULL, 0, 20, &hits), 9, "\"and\" is a word of 9 notes");
	free(hits);
	const char *odd[] = {"\"kubernetes", "(kubernetes", "kubernetes:", "kubernetes*"};
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		cr_assert_eq(search(ann, odd[i], NULL, 0, 10, &hits), 3, "%s", odd[i]);
		free(hits);
	}
	cr_assert_eq(store_keyword_search(db, ann, NULL, 0, false, NULL, 0, 10, &hits, &n, &err),
	             VERR_OK);
	cr_assert_eq(n, 0, "no terms, no hits");
	free(hits);

	/* A phrase counts in the title or a tag only, in order. */
	cr_assert_eq(search_for(ann, "weekly notes", true, NULL, 0, 10, &hits), 1);
	cr_assert_eq(hits[0].note_id, body);
	free(hits);
	cr_assert_eq(search_for(ann, "notes weekly", true, NULL, 0, 10, &hits), 0);
	free(hits);
	cr_assert_eq(search_for(ann, "long walk", true, NULL, 0, 10, &hits), 0, "body only");
	free(hits);
	cr_assert_eq(search_for(ann, "kubernetes", true, NULL, 0, 10, &hits), 2, "title and tag");
	free(hits);
}

Test(store_sqlite, keyword_index_follows_updates_and_deletes)
{
	struct verror err = {0};
	struct keyword_hit *hits = NULL;
	struct note upd;
	open_migrated(NULL);
	int64_t ann = make_user("ann@x.org");
	int64_t bob = make_user("bob@x.org");
	const char *tags[] = {"alpine"};
	int64_t id = make_text_note(ann, "Skiing trip", "powder snow", tags, 1);
	make_text_note(ann, "Other", "powder coffee", NULL, 0);
	make_text_note(bob, "Bob's skiing", "powder", NULL, 0);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM notes_fts"), 3);
	/* Each user's figures: notes, and tokens of title, content and tags. */
	const char *stats = "SELECT docs * 1000 + tokens FROM keyword_stats WHERE user_id = %lld";
	cr_assert_eq(query_intf(stats, (long long)ann), 2008);
	cr_assert_eq(query_intf(stats, (long long)bob), 1004);

	const char *tags2[] = {"coastal"};
	struct note_input in = {"Sailing trip", "wind and waves", tags2, 1};
	cr_assert_eq(store_note_update(db, ann, id, &in, 5, &upd, &err), VERR_OK, "%s", err.detail);
	note_free(&upd);
	cr_assert_eq(search(ann, "skiing alpine snow", NULL, 0, 10, &hits), 0);
	free(hits);
	cr_assert_eq(search(ann, "sailing AND coastal AND waves", NULL, 0, 10, &hits), 1);
	cr_assert_eq(hits[0].note_id, id);
	free(hits);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM notes_fts"), 3);
	cr_assert_eq(query_intf(stats, (long long)ann), 2009, "6 tokens replaced 5");

	cr_assert_eq(store_note_delete(db, ann, id, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(search(ann, "sailing", NULL, 0, 10, &hits), 0);
	free(hits);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM notes_fts"), 2);
	cr_assert_eq(query_intf(stats, (long long)ann), 1003);

	/* The account goes with its index: no row, no term, no figures left. */
	cr_assert_eq(store_user_delete(db, ann, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM notes_fts"), 1);
	cr_assert_eq(
	    query_intf("SELECT COUNT(*) FROM notes_fts WHERE user_id = %lld", (long long)bob), 1);
	cr_assert_eq(
	    query_intf("SELECT COUNT(*) FROM keyword_stats WHERE user_id = %lld", (long long)ann),
	    0);
	cr_assert_eq(query_intf(stats, (long long)bob), 1004);
	exec_raw("CREATE VIRTUAL TABLE vocab USING fts5vocab(notes_fts, row)");
	cr_assert_eq(query_intf("SELECT COUNT(*) FROM vocab WHERE term >= '%lld' || char(31) "
	                        "AND term < '%lld' || char(32)",
	                        (long long)ann, (long long)ann),
	             0, "terms of the deleted user are left in the index");
	cr_assert_gt(query_intf("SELECT COUNT(*) FROM vocab WHERE term >= '%lld' || char(31) "
	                        "AND term < '%lld' || char(32)",
	                        (long long)bob, (long long)bob),
	             0);
	exec_raw("INSERT INTO notes_fts(notes_fts) VALUES ('integrity-check')");
}

/*
 * The owner's marker is only ever the one vault puts first: text that looks
 * like another user's marker is indexed as the writer's own words, and a
 * value or query without a marker is refused rather than indexed for nobody.
 */
Test(store_sqlite, keyword_index_owner_cannot_be_forged)
{
	struct keyword_hit *hits = NULL;
	open_migrated(NULL);
	int64_t ann = make_user("ann@x.org");
	int64_t bob = make_user("bob@x.org");
	char forged[64];
	snprintf(forged, sizeof(forged), "\x1f%lld\x1fplanted words", (long long)bob);
	int64_t id = make_text_note(ann, forged, forged, (const char *[]){forged}, 1);
	cr_assert_eq(search(bob, "planted", NULL, 0, 10, &hits), 0);
	free(hits);
	cr_assert_eq(search(ann, "planted", NULL, 0, 10, &hits), 1);
	cr_assert_eq(hits[0].note_id, id);
	free(hits);
	/* Nor can a query term name another owner. */
	make_text_note(bob, "Bob's seeds", "seeds planted in spring", NULL, 0);
	char term[64];
	snprintf(term, sizeof(term), "\x1f%lld\x1fseeds", (long long)bob);
	cr_assert_eq(search(ann, term, NULL, 0, 10, &hits), 0);
	free(hits);
	cr_assert_eq(search_for(ann, term, true, NULL, 0, 10, &hits), 0);
	free(hits);

	sqlite3 *raw = open_raw();
	cr_assert_neq(sqlite3_exec(raw,
	                           "INSERT INTO notes_fts (rowid, title, content, tags, user_id) "
	                           "VALUES (99, 'no', 'marker', '', 1)",
	                           NULL, NULL, NULL),
	              SQLITE_OK);
	cr_assert_neq(sqlite3_exec(raw, "SELECT * FROM notes_fts WHERE notes_fts MATCH 'planted'",
	                           NULL, NULL, NULL),
	              SQLITE_OK);
	sqlite3_close(raw);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM notes_fts"), 2);
}

/* A stock FTS5 table with notes_fts's tokenizer, for reference scores. */
static sqlite3 *ref_open(void)
{
	sqlite3 *ref;
	cr_assert_eq(sqlite3_open(":memory:", &ref), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(ref,
	                          "CREATE VIRTUAL TABLE ref USING fts5(title, content, tags, "
	                          "tokenize = 'porter unicode61 remove_diacritics 2')",
	                          NULL, NULL, NULL),
	             SQLITE_OK, "%s", sqlite3_errmsg(ref));
	return ref;
}

static void ref_add(sqlite3 *ref, int64_t id, const char *title, const char *content,
                    const char *tag)
{
	char *sql = sqlite3_mprintf("INSERT INTO ref (rowid, title, content, tags) VALUES "
	                            "(%lld, %Q, %Q, %Q)",
	                            (long long)id, title, content, tag ? tag : "");
	cr_assert_eq(sqlite3_exec(ref, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_free(sql);
}

/* hits are, in order and score, stock FTS5's bm25() for words (OR) on ref. */
static void expect_stock_bm25(sqlite3 *ref, const char *words, const struct keyword_hit *hits,
                              size_t n)
{
	char match[256] = "";
	size_t len = 0;
	const char *w = words;
	while (*w) { /* "a b" -> "a" OR "b" */
		size_t wl = strcspn(w, " ");
		len += (size_t)snprintf(match + len, sizeof(match) - len, "%s\"%.*s\"",
		                        len ? " OR " : "", (int)wl, w);
		w += wl + (w[wl] == ' ');
	}
	char *sql = sqlite3_mprintf("SELECT rowid, -bm25(ref, 10.0, 1.0, 5.0) FROM ref WHERE ref "
	                            "MATCH %Q ORDER BY bm25(ref, 10.0, 1.0, 5.0), rowid",
	                            match);
	sqlite3_stmt *st;
	cr_assert_eq(sqlite3_prepare_v2(ref, sql, -1, &st, NULL), SQLITE_OK, "%s",
	             sqlite3_errmsg(ref));
	sqlite3_free(sql);
	size_t i = 0;
	for (; sqlite3_step(st) == SQLITE_ROW; i++) {
		cr_assert_lt(i, n, "%s: the reference has more than %zu hits", words, n);
		cr_assert_eq(hits[i].note_id, sqlite3_column_int64(st, 0), "%s, hit %zu", words, i);
		cr_assert_float_eq(hits[i].score, sqlite3_column_double(st, 1), 1e-9,
		                   "%s, hit %zu: %.12g, the reference's %.12g", words, i,
		                   hits[i].score, sqlite3_column_double(st, 1));
	}
	sqlite3_finalize(st);
	cr_assert_eq(i, n, "%s", words);
}

/*
 * BM25 as if each user had an FTS5 table of their own: ann's scores equal
 * those of a stock FTS5 table (same tokenizer, same column weights) holding
 * only ann's notes, before and after bob writes many notes with her words.
 * Among her notes "ferry" is the rarer word, so the note with it ranks above
 * the visa ones; with statistics shared between users, bob's notes would
 * make "ferry" common and turn that order round.
 */
Test(store_sqlite, keyword_ranking_uses_only_the_users_own_notes)
{
	static const struct {
		const char *title, *content, *tag;
	} mine[] = {
	    {"Groceries", "milk eggs bread and butter", NULL},
	    {"Groceries", "more milk and eggs", "home"},
	    {"Harbour day", "we took the ferry", NULL},
	    {"Embassy day", "the visa arrived", "travel"},
	    {"Passport day", "visa stamps again and again", NULL},
	    {"Ferry and visa", "both words in the title, a longer note than the others", NULL},
	};
	const size_t nmine = sizeof(mine) / sizeof(mine[0]);
	open_migrated(NULL);
	int64_t ann = make_user("ann@x.org");
	int64_t bob = make_user("bob@x.org");
	sqlite3 *ref = ref_open();
	int64_t ferry = 0;
	for (size_t i = 0; i < nmine; i++) {
		const char *tags[] = {mine[i].tag};
		int64_t id =
		    make_text_note(ann, mine[i].title, mine[i].content, tags, mine[i].tag ? 1 : 0);
		if (i == 2)
			ferry = id;
		ref_add(ref, id, mine[i].title, mine[i].content, mine[i].tag);
	}

	for (int round = 0; round < 2; round++) {
		if (round == 1) /* bob, with ann's words everywhere */
			for (int i = 0; i < 40; i++) {
				const char *tags[] = {"ferry"};
				make_text_note(bob, "Ferry", "ferry timetable, ferry fares, visa",
				               tags, 1);
			}
		struct keyword_hit *hits = NULL;
		size_t n = search(ann, "ferry visa", NULL, 0, 10, &hits);
		expect_stock_bm25(ref, "ferry visa", hits, n);
		cr_assert_eq(n, 4);
		cr_assert_eq(hits[1].note_id, ferry,
		             "round %d: ferry, the rarer word, comes second "
		             "(after the title with both)",
		             round);
		free(hits);
	}
	sqlite3_close(ref);
}

/*
 * vault_bm25 reads the length of only the rows that can be among the best
 * the query keeps (sqlite_fts.c): the best k must be exactly the first k of
 * scoring every row (a limit past BM25_KEEP_MAX prunes nothing), ids,
 * scores and order, over notes whose lengths vary from one word to hundreds
 * (short ones gain most from their length, so a wrong bound loses them).
 * Scoring every row must give stock FTS5's bm25() on the same notes: the
 * lengths, read from notes_fts_docsize (varints of two bytes past 127
 * tokens), are FTS5's.
 */
Test(store_sqlite, keyword_top_k_equals_scoring_every_row)
{
	static const char *const vocab[] = {"harbour", "ferry",  "visa",    "lantern", "orchard",
	                                    "copper",  "violin", "glacier", "meadow",  "quartz"};
	static const char *const queries[] = {"ferry visa", "lantern orchard copper", "harbour",
	                                      "violin glacier meadow quartz ferry"};
	static const size_t ks[] = {1, 3, 10, 40};
	const char *tag[] = {"ferry"};
	uint64_t x = 88172645463325252ull;
	open_migrated(NULL);
	int64_t ann = make_user("ann@x.org");
	sqlite3 *ref = ref_open();
	for (int i = 0; i < 300; i++) {
		char title[64], content[4096];
		size_t len = 0, words;
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		words = x % 4 == 0 ? 1 + x % 3 : 1 + (x >> 8) % 400; /* a quarter very short */
		for (size_t w = 0; w < words; w++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			/* mostly filler, so the vocabulary's words are rare and vary per note */
			const char *word = x % 5 == 0 ? vocab[(x >> 8) % 10] : "filler";
			len += (size_t)snprintf(content + len, sizeof(content) - len, "%s ", word);
		}
		snprintf(title, sizeof(title), "%s note", vocab[(x >> 16) % 10]);
		bool tagged = (x >> 24) % 3 == 0;
		int64_t id = make_text_note(ann, title, content, tag, tagged);
		ref_add(ref, id, title, content, tagged ? tag[0] : NULL);
	}
	for (size_t qi = 0; qi < sizeof(queries) / sizeof(queries[0]); qi++)
		for (int tagged = 0; tagged < 2; tagged++) {
			struct keyword_hit *all = NULL;
			size_t nall = search(ann, queries[qi], tag, (size_t)tagged, 100000, &all);
			cr_assert_gt(nall, 40, "%s: %zu hits", queries[qi], nall);
			if (!tagged)
				expect_stock_bm25(ref, queries[qi], all, nall);
			for (size_t ki = 0; ki < sizeof(ks) / sizeof(ks[0]); ki++) {
				struct keyword_hit *top = NULL;
				size_t n =
				    search(ann, queries[qi], tag, (size_t)tagged, ks[ki], &top);
				cr_assert_eq(n, ks[ki], "%s, k %zu: %zu hits", queries[qi], ks[ki],
				             n);
				for (size_t i = 0; i < n; i++) {
					cr_assert_eq(top[i].note_id, all[i].note_id,
					             "%s, tagged %d, k %zu, hit %zu: note %lld, "
					             "scoring all gives %lld",
					             queries[qi], tagged, ks[ki], i,
					             (long long)top[i].note_id,
					             (long long)all[i].note_id);
					cr_assert(top[i].score == all[i].score);
				}
				free(top);
			}
			free(all);
		}
	sqlite3_close(ref);
}

/*
 * A database at migration 2 (one index for all) with two users' notes: after
 * migration 3 each user's scores are those of their own notes alone, and the
 * figures the migration computed are the ones writes keep.
 */
Test(store_sqlite, migrate_keyword_per_user_ranks_each_users_own_notes)
{
	struct verror err = {0};
	struct keyword_hit *hits = NULL;
	struct note upd;
	int steps;
	cr_assert_eq(open_at("vault.db", NULL, &db, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(store_migrate_up(db, 2, &steps, &err), VERR_OK, "%s", err.detail);
	exec_raw("INSERT INTO users (id, email, password_hash, created_at) VALUES "
	         "(1, 'ann', 'h', 1), (2, 'bob', 'h', 1);"
	         "INSERT INTO notes VALUES (1, 1, 'Harbour day', 'we took the ferry', 1, 1),"
	         "(2, 1, 'Embassy day', 'the visa arrived', 1, 1),"
	         "(3, 1, 'Passport day', 'visa stamps again', 1, 1),"
	         "(4, 1, 'Groceries', 'milk and eggs', 1, 1);"
	         "INSERT INTO note_tags VALUES (3, 1, 'travel', 0);"
	         "WITH RECURSIVE i(n) AS (SELECT 5 UNION ALL SELECT n + 1 FROM i WHERE n < 40) "
	         "INSERT INTO notes SELECT n, 2, 'Ferry', 'ferry fares and the ferry port', 1, 1 "
	         "FROM i;"
	         "INSERT INTO notes_fts (rowid, title, content, tags, user_id) "
	         "SELECT id, title, content, '', user_id FROM notes;");
	/* Before: bob's ferries make "ferry" common, so the visa notes lead. */
	cr_assert_eq(query_int("SELECT rowid FROM notes_fts WHERE notes_fts MATCH 'ferry OR visa' "
	                       "AND user_id = 1 ORDER BY bm25(notes_fts, 10.0, 1.0, 5.0, 0.0), "
	                       "rowid LIMIT 1"),
	             2);

	cr_assert_eq(store_migrate_up(db, 3, &steps, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(steps, 1);
	cr_assert_eq(query_int("SELECT docs FROM keyword_stats WHERE user_id = 1"), 4);
	cr_assert_eq(query_int("SELECT docs FROM keyword_stats WHERE user_id = 2"), 36);
	cr_assert_eq(query_int("SELECT tokens FROM keyword_stats WHERE user_id = 1"), 21);
	cr_assert_eq(search(1, "ferry visa", NULL, 0, 10, &hits), 3);
	cr_assert_eq(hits[0].note_id, 1, "ann's rarer word leads");
	free(hits);

	/* Writing a note back unchanged leaves the figures as the migration made them. */
	cr_assert_eq(store_migrate_up(db, -1, &steps, &err), VERR_OK, "%s", err.detail);
	const char *travel[] = {"travel"};
	struct note_input in = {"Passport day", "visa stamps again", travel, 1};
	cr_assert_eq(store_note_update(db, 1, 3, &in, 5, &upd, &err), VERR_OK, "%s", err.detail);
	note_free(&upd);
	cr_assert_eq(query_int("SELECT docs * 1000 + tokens FROM keyword_stats WHERE user_id = 1"),
	             4021);
}

Test(store_sqlite, user_delete_removes_chunks_and_index)
{
	struct verror err = {0};
	open_migrated(NULL);
	int64_t ann = make_user("ann@x.org");
	int64_t bob = make_user("bob@x.org");
	const char *t[] = {"a", "b"};
	make_chunked(ann, "ann", t, 2, 1);
	const char *tb[] = {"c"};
	make_chunked(bob, "bob", tb, 1, 1);
	embed(chunk_id("a"), "a", "m", DIM, 1);
	cr_assert_eq(store_user_delete(db, ann, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM chunks"), 1);
	cr_assert_eq(query_intf("SELECT COUNT(*) FROM chunks WHERE user_id = %lld", (long long)bob),
	             1);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM notes_fts"), 1);
}

/* ---------------------------------------------------------------- search: note lookups */

Test(store_sqlite, notes_get_many_keeps_order_and_skips_foreign)
{
	struct verror err = {0};
	struct note out[6];
	open_migrated(NULL);
	int64_t ann = make_user("ann@x.org");
	int64_t bob = make_user("bob@x.org");
	const char *ta[] = {"x", "y"};
	int64_t a = make_text_note(ann, "A", "a", ta, 2);
	const char *ct[] = {"chunk"};
	int64_t b = make_chunked(ann, "B", ct, 1, 2);
	int64_t foreign = make_text_note(bob, "Bob's", "b", NULL, 0);

	const int64_t ids[6] = {b, foreign, a, 9999, b, 0};
	cr_assert_eq(store_notes_get_many(db, ann, ids, 6, out, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(out[0].id, b);
	cr_assert_str_eq(out[0].title, "B");
	cr_assert_eq(out[0].embedding_status, EMBED_PENDING);
	cr_assert_eq(out[0].user_id, ann);
	cr_assert_eq(out[1].id, 0, "another user's note");
	cr_assert_null(out[1].title);
	cr_assert_eq(out[2].id, a);
	cr_assert_str_eq(out[2].content, "a");
	cr_assert_eq(out[2].embedding_status, EMBED_READY);
	assert_tags(&out[2], ta, 2);
	cr_assert_eq(out[3].id, 0);
	cr_assert_eq(out[4].id, b, "a repeated id is filled each time");
	cr_assert_str_eq(out[4].title, "B");
	cr_assert_neq(out[4].title, out[0].title, "with its own copy");
	cr_assert_eq(out[5].id, 0);
	for (size_t i = 0; i < 6; i++)
		note_free(&out[i]);
	cr_assert_eq(store_notes_get_many(db, ann, ids, 0, out, &err), VERR_OK);

	/* With their chunks, in order, for the notes found: none for another user's. */
	const char *two[] = {"first", "second"};
	update_chunked(ann, b, "B", two, 2, 3);
	struct note_chunks ch[6];
	cr_assert_eq(store_notes_get_many_chunks(db, ann, ids, 6, out, ch, &err), VERR_OK, "%s",
	             err.detail);
	cr_assert_eq(out[0].id, b);
	cr_assert_eq(ch[0].n, 2);
	cr_assert_str_eq(ch[0].texts[0], "first");
	cr_assert_str_eq(ch[0].texts[1], "second");
	cr_assert_eq(ch[0].ids[1], chunk_id("second"));
	cr_assert_eq(ch[1].n, 0, "another user's note has no chunks here");
	cr_assert_eq(ch[2].n, 0, "a note without chunks");
	cr_assert_eq(out[2].id, a);
	for (size_t i = 0; i < 6; i++) {
		note_free(&out[i]);
		note_chunks_free(&ch[i]);
	}
}

Test(store_sqlite, note_ids_with_tags_and_note_chunks)
{
	struct verror err = {0};
	int64_t *ids = NULL, *cids = NULL;
	char **texts = NULL;
	size_t n;
	open_migrated(NULL);
	int64_t ann = make_user("ann@x.org");
	int64_t bob = make_user("bob@x.org");
	const char *wr[] = {"work", "rust"};
	const char *w[] = {"work"};
	int64_t a = make_text_note(ann, "a", "", wr, 2);
	int64_t b = make_text_note(ann, "b", "", w, 1);
	int64_t c = make_text_note(ann, "c", "", NULL, 0);
	make_text_note(bob, "bob", "", wr, 2);

	cr_assert_eq(store_note_ids_with_tags(db, ann, w, 1, &ids, &n, &err), VERR_OK, "%s",
	             err.detail);
	cr_assert_eq(n, 2);
	cr_assert_eq(ids[0], a);
	cr_assert_eq(ids[1], b);
	free(ids);
	cr_assert_eq(store_note_ids_with_tags(db, ann, wr, 2, &ids, &n, &err), VERR_OK, "%s",
	             err.detail);
	cr_assert_eq(n, 1);
	cr_assert_eq(ids[0], a);
	free(ids);
	cr_assert_eq(store_note_ids_with_tags(db, ann, NULL, 0, &ids, &n, &err), VERR_OK, "%s",
	             err.detail);
	cr_assert_eq(n, 3);
	cr_assert_eq(ids[2], c);
	free(ids);
	const char *none[] = {"none"};
	cr_assert_eq(store_note_ids_with_tags(db, ann, none, 1, &ids, &n, &err), VERR_OK, "%s",
	             err.detail);
	cr_assert_eq(n, 0);
	cr_assert_null(ids);

	cr_assert_eq(store_note_chunks(db, ann, a, &cids, &texts, &n, &err), VERR_OK, "%s",
	             err.detail);
	cr_assert_eq(n, 0, "a note without chunks");
	cr_assert_null(cids);
	const char *t[] = {"first", "second"};
	int64_t ch = make_chunked(ann, "chunked", t, 2, 1);
	cr_assert_eq(store_note_chunks(db, bob, ch, &cids, &texts, &n, &err), VERR_NOT_FOUND);
	cr_assert_eq(store_note_chunks(db, ann, 9999, &cids, &texts, &n, &err), VERR_NOT_FOUND);
	cr_assert_eq(store_note_chunks(db, ann, ch, &cids, &texts, &n, &err), VERR_OK, "%s",
	             err.detail);
	cr_assert_eq(n, 2);
	cr_assert_eq(cids[0], chunk_id("first"));
	cr_assert_str_eq(texts[1], "second");
	for (size_t i = 0; i < n; i++)
		free(texts[i]);
	free(texts);
	free(cids);
}

Test(store_sqlite, note_list_reports_embedding_status)
{
	struct verror err = {0};
	struct note_page page;
	open_migrated(NULL);
	int64_t uid = make_user("ann@x.org");
	const char *t1[] = {"r1"};
	const char *t2[] = {"f1", "r2"};
	const char *t3[] = {"p1", "f2"};
	int64_t ready = make_chunked(uid, "ready", t1, 1, 1);
	int64_t failed = make_chunked(uid, "failed", t2, 2, 2);
	int64_t pending = make_chunked(uid, "pending", t3, 2, 3);
	int64_t empty = make_chunked(uid, "empty", NULL, 0, 4);
	embed(chunk_id("r1"), "r1", "m", DIM, 1);
	embed(chunk_id("r2"), "r2", "m", DIM, 1);
	cr_assert_eq(store_embed_failed(db, chunk_id("f1"), "f1", "x", 0, true, &err), VERR_OK);
	cr_assert_eq(store_embed_failed(db, chunk_id("f2"), "f2", "x", 0, true, &err), VERR_OK);

	struct note_query q = {uid, 0, 10, NULL, 0};
	cr_assert_eq(store_note_list(db, &q, &page, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(page.n, 4);
	cr_assert_eq(page.items[0].id, empty);
	cr_assert_eq(page.items[0].embedding_status, EMBED_READY);
	cr_assert_eq(page.items[1].id, pending);
	cr_assert_eq(page.items[1].embedding_status, EMBED_PENDING);
	cr_assert_eq(page.items[2].id, failed);
	cr_assert_eq(page.items[2].embedding_status, EMBED_FAILED);
	cr_assert_eq(page.items[3].id, ready);
	cr_assert_eq(page.items[3].embedding_status, EMBED_READY);
	note_page_free(&page);
}

/* ---------------------------------------------------------------- search: concurrency */

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
		bool over =
		    cl->n + n > CLAIM_TOTAL; /* handed out more than exist: fail, not loop */
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

/* Threads on two handles: one pool's write mutex, and SQLite's lock between the two. */
Test(store_sqlite, concurrent_claims_never_share_a_chunk)
{
	struct verror err = {0};
	struct store *other = NULL;
	pthread_t threads[CLAIMERS];
	static struct claimer cl[CLAIMERS];
	pthread_barrier_t start;
	open_migrated(NULL);
	int64_t uid = make_user("ann@x.org");
	cr_assert_eq(open_at("vault.db", NULL, &other, &err), VERR_OK, "%s", err.detail);

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
	for (int i = 0; i < CLAIMERS; i++)
		pthread_join(threads[i], NULL);
	pthread_barrier_destroy(&start);
	store_close(other);

	static bool seen[CLAIM_TOTAL + 1];
	size_t total = 0;
	int64_t min_id = query_int("SELECT MIN(id) FROM chunks");
	for (int i = 0; i < CLAIMERS; i++) {
		cr_assert_eq(cl[i].rc, VERR_OK, "claimer %d", i);
		for (size_t k = 0; k < cl[i].n; k++) {
			int64_t idx = cl[i].got[k] - min_id;
			cr_assert(idx >= 0 && idx < CLAIM_TOTAL, "chunk %lld",
			          (long long)cl[i].got[k]);
			cr_assert_not(seen[idx], "chunk %lld handed out twice",
			              (long long)cl[i].got[k]);
			seen[idx] = true;
			total++;
		}
	}
	cr_assert_eq(total, CLAIM_TOTAL);
}

Test(store_sqlite, quotas_hold_in_the_writing_transaction)
{
	struct verror err = {0};
	struct note n;
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
	cr_assert_eq(query_intf("SELECT notes_count FROM users WHERE id = %lld", (long long)ann),
	             2);
	cr_assert_eq(query_intf("SELECT notes_bytes FROM users WHERE id = %lld", (long long)ann),
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
	cr_assert_eq(query_intf("SELECT notes_bytes FROM users WHERE id = %lld", (long long)ann),
	             12);

	/* Deleting gives room back; another user's usage is their own. */
	cr_assert_eq(store_note_delete(db, ann, first, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(query_intf("SELECT notes_count FROM users WHERE id = %lld", (long long)ann),
	             1);
	cr_assert_eq(store_note_create(db, ann, &in, 6, &n, &err), VERR_OK, "%s", err.detail);
	note_free(&n);
	int64_t bob = make_user("bob@x.org");
	cr_assert_eq(store_note_create(db, bob, &in, 7, &n, &err), VERR_OK, "%s", err.detail);
	note_free(&n);
}

/* ---------------------------------------------------------------- group commit */

struct writer {
	int64_t uid;
	struct note_input in;
	enum verr rc;
};

static void *write_note(void *arg)
{
	struct writer *w = arg;
	struct verror err = {0};
	struct note n;
	w->rc = store_note_create(db, w->uid, &w->in, 10, &n, &err);
	if (w->rc == VERR_OK)
		note_free(&n);
	return NULL;
}

/*
 * Writers that queue while another commits are committed together, and one
 * that fails in the group (here after writing its row: over its quota)
 * undoes only its own writes. A connection of the test's own holds
 * SQLite's write lock meanwhile, so the queue is sure to form.
 */
Test(store_sqlite, queued_writers_commit_together_and_fail_alone)
{
	enum { N = 5, FAILS = 2 };
	struct writer w[N];
	pthread_t threads[N];
	struct store_stats before, after;
	struct verror err = {0};
	open_migrated(NULL);
	int64_t ann = make_user("ann@x.org"), carl = make_user("carl@x.org");
	make_note(carl, "first", NULL, 0, 1);

	for (int i = 0; i < N; i++)
		w[i] =
		    (struct writer){i == FAILS ? carl : ann, {.title = "queued", .content = "c"}};
	w[FAILS].in.max_notes = 1; /* carl has one: this insert runs, then the quota refuses it */
	cr_assert_eq(store_stats(db, &before, &err), VERR_OK, "%s", err.detail);

	sqlite3 *raw = open_raw();
	cr_assert_eq(sqlite3_exec(raw, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	/* The first leads alone and waits for the lock; the rest queue behind it. */
	cr_assert_eq(pthread_create(&threads[0], NULL, write_note, &w[0]), 0);
	usleep(100 * 1000);
	for (int i = 1; i < N; i++)
		cr_assert_eq(pthread_create(&threads[i], NULL, write_note, &w[i]), 0);
	usleep(300 * 1000);
	cr_assert_eq(sqlite3_exec(raw, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(raw);
	for (int i = 0; i < N; i++)
		pthread_join(threads[i], NULL);

	for (int i = 0; i < N; i++)
		cr_assert_eq(w[i].rc, i == FAILS ? VERR_FORBIDDEN : VERR_OK, "writer %d: %d", i,
		             w[i].rc);
	cr_assert_eq(query_intf("SELECT COUNT(*) FROM notes WHERE user_id = %lld AND title = "
	                        "'queued'",
	                        (long long)ann),
	             N - 1);
	cr_assert_eq(query_intf("SELECT COUNT(*) FROM notes WHERE user_id = %lld", (long long)carl),
	             1);
	cr_assert_eq(query_intf("SELECT notes_count FROM users WHERE id = %lld", (long long)carl),
	             1);
	cr_assert_eq(store_stats(db, &after, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(after.writes - before.writes, N);
	/* The leader's own commit, then one for the four behind it (a straggler: one more). */
	cr_assert(after.commits - before.commits >= 2 && after.commits - before.commits <= 3,
	          "%" PRIu64 " commits for %d writes", after.commits - before.commits, N);
}
