/*
 * test_store_sqlite.c - the SQLite backend of store.h against real database
 * files, one fresh temporary directory per test.
 *
 * Where the interface cannot show an effect (cascades, what the log holds),
 * the tests look at the file with a connection of their own.
 */
#include <criterion/criterion.h>

#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "store/store.h"

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
	cr_assert_eq(applied, 1);
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

/* One integer from sql, run on the test's own connection to vault.db. */
static int64_t query_int(const char *sql)
{
	sqlite3 *raw;
	sqlite3_stmt *st;
	cr_assert_eq(sqlite3_open(in_dir("vault.db"), &raw), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(raw, sql, -1, &st, NULL), SQLITE_OK, "%s",
	             sqlite3_errmsg(raw));
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(raw);
	return v;
}

static void exec_raw(const char *sql)
{
	sqlite3 *raw;
	cr_assert_eq(sqlite3_open(in_dir("vault.db"), &raw), SQLITE_OK);
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
	cr_assert_eq(store_open("postgres://localhost/vault", NULL, &db, &err), VERR_INVALID);
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
	cr_assert_eq(n, 1);
	cr_assert_eq(mi[0].version, 1);
	cr_assert_str_eq(mi[0].name, "init");
	cr_assert_eq(mi[0].applied_at, 0);
	free(mi);

	cr_assert_eq(store_migrate_up(db, -1, &steps, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(steps, 1);
	cr_assert_eq(store_migrate_up(db, -1, &steps, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(steps, 0, "up at the latest version must do nothing");

	cr_assert_eq(store_migrate_status(db, &mi, &n, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(n, 1);
	cr_assert_gt(mi[0].applied_at, 0);
	free(mi);
	cr_assert_eq(store_user_create(db, "a@x.org", "h", 1, &u, &err), VERR_OK, "%s", err.detail);

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

	cr_assert_eq(store_migrate_up(db, 2, &steps, &err), VERR_INVALID);
	cr_assert_eq(store_migrate_up(db, -2, &steps, &err), VERR_INVALID);
	cr_assert_eq(store_migrate_down(db, -2, &steps, &err), VERR_INVALID);
}

Test(store_sqlite, schema_check_behind_current_ahead)
{
	struct verror err = {0};
	int steps;

	cr_assert_eq(open_at("vault.db", NULL, &db, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(store_schema_check(db, &err), VERR_UNAVAILABLE);
	cr_assert(strstr(err.detail, "version 0, expected 1") != NULL, "%s", err.detail);
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
	int64_t id = make_note(uid, "Old", tags, 1, 100);

	/* A duplicate tag breaks the primary key halfway through: all must roll back. */
	const char *dup[] = {"x", "x"};
	struct note_input in = {"New", "new", dup, 2};
	cr_assert_eq(store_note_update(db, uid, id, &in, 200, &upd, &err), VERR_CONFLICT);
	cr_assert_null(upd.title);

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

	cr_assert_eq(store_token_rotate(db, "t1", "t2", 20000, 2000, &uid, &err), VERR_OK, "%s",
	             err.detail);
	cr_assert_eq(uid, ann);
	cr_assert_eq(query_int("SELECT used_at FROM refresh_tokens WHERE token_hash = 't1'"), 2000);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM refresh_tokens WHERE token_hash = 't2' "
	                       "AND family = 'fam-1' AND expires_at = 20000 AND user_id = 1"),
	             1);

	cr_assert_eq(store_token_rotate(db, "t2", "t3", 30000, 3000, &uid, &err), VERR_OK, "%s",
	             err.detail);

	/* t1 again: a stolen, already rotated token. */
	cr_assert_eq(store_token_rotate(db, "t1", "evil", 30000, 4000, &uid, &err),
	             VERR_UNAUTHORIZED);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM refresh_tokens WHERE token_hash = 'evil'"), 0);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM refresh_tokens WHERE family = 'fam-1' "
	                       "AND revoked_at = 4000"),
	             3, "the revocation must be committed");
	cr_assert_eq(store_token_rotate(db, "t3", "t4", 30000, 4100, &uid, &err), VERR_UNAUTHORIZED,
	             "the newest member is revoked with its family");

	/* Other families live on. */
	cr_assert_eq(store_token_rotate(db, "other", "other2", 30000, 4200, &uid, &err), VERR_OK,
	             "%s", err.detail);
}

Test(store_sqlite, token_rotate_rejects_expired_unknown_and_duplicates)
{
	struct verror err = {0};
	int64_t uid = -1;
	open_migrated(NULL);
	int64_t ann = make_user("ann@x.org");
	make_token(ann, "fam", "old", 5000);

	cr_assert_eq(store_token_rotate(db, "old", "new", 9000, 5000, &uid, &err),
	             VERR_UNAUTHORIZED, "expires_at is exclusive");
	cr_assert_eq(uid, -1);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM refresh_tokens WHERE used_at IS NOT NULL "
	                       "OR revoked_at IS NOT NULL OR token_hash = 'new'"),
	             0, "a rejected rotation writes nothing");
	cr_assert_eq(store_token_rotate(db, "nope", "new", 9000, 10, &uid, &err),
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
	cr_assert_eq(store_token_rotate(db, "a1-t1", "a1-t2", 10000, 100, &uid, &err), VERR_OK,
	             "%s", err.detail);

	cr_assert_eq(store_token_revoke_family(db, bob, "a1-t2", 200, &err), VERR_NOT_FOUND,
	             "another user's token");
	cr_assert_eq(store_token_revoke_family(db, ann, "missing", 200, &err), VERR_NOT_FOUND);

	/* Revoking by the older member takes the whole family. */
	cr_assert_eq(store_token_revoke_family(db, ann, "a1-t1", 200, &err), VERR_OK, "%s",
	             err.detail);
	cr_assert_eq(store_token_rotate(db, "a1-t2", "x", 10000, 300, &uid, &err),
	             VERR_UNAUTHORIZED);
	cr_assert_eq(store_token_revoke_family(db, ann, "a1-t2", 250, &err), VERR_OK,
	             "revoking twice is fine");
	cr_assert_eq(store_token_rotate(db, "a2-t1", "a2-t2", 10000, 300, &uid, &err), VERR_OK,
	             "%s", err.detail);

	cr_assert_eq(store_token_revoke_all(db, ann, 400, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(store_token_rotate(db, "a2-t2", "y", 10000, 500, &uid, &err),
	             VERR_UNAUTHORIZED);
	cr_assert_eq(store_token_rotate(db, "a3-t1", "z", 10000, 500, &uid, &err),
	             VERR_UNAUTHORIZED);
	cr_assert_eq(query_int("SELECT COUNT(*) FROM refresh_tokens WHERE user_id = 1 AND "
	                       "revoked_at IS NULL"),
	             0);
	cr_assert_eq(store_token_rotate(db, "b1-t1", "b1-t2", 10000, 500, &uid, &err), VERR_OK,
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
	r->rc = store_token_rotate(db, "contested", new_hash, 99999, 2000, &r->uid, &err);
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
	struct note_input in = {"TITLEVALUE", "CONTENTVALUE", tags, 2};
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
	/* Each run of a statement is one line: the tag insert ran twice, and the
	 * cascades of the user delete are not repeated as lines of their own. */
	cr_assert_eq(count_lines(text, "INSERT INTO note_tags"), 2, "%s", text);
	cr_assert_eq(count_lines(text, "DELETE FROM users"), 1, "%s", text);
	const char *secrets[] = {"leak@x.org", "SECRETHASH", "FAMILYVALUE", "TOKENHASHVALUE",
	                         "TAGVALUE",   "TAG2VALUE",  "TITLEVALUE",  "CONTENTVALUE"};
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
