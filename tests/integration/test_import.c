/*
 * test_import.c - `vault import` through the real binary, against a server
 * on the same database: a fixture vault written here (front matter
 * variants, every wikilink form, embeds in a cycle, unicode names, broken
 * YAML, dot-folders, symbolic links out of the folder), then what the
 * notes, their links and backlinks (GET /api/v1/notes/{id}/links) hold;
 * re-imports that change nothing, a change, renames, a file gone (kept,
 * dry run, prune), a file that fails; import(export(vault)) reproducing
 * notes, tags, links and dates; --watch mirroring an edit.
 */
#include "integration/harness.h"

#include <errno.h>
#include <libpq-fe.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct server srv, watcher;

static void cleanup(void)
{
	server_cleanup(&watcher);
	server_cleanup(&srv);
}

TestSuite(import, .fini = cleanup, .timeout = IT_TIMEOUT(120));

/* Writes text to root/rel, making its folders. */
static void put(const char *root, const char *rel, const char *text)
{
	char *path = it_asprintf("%s/%s", root, rel);
	cr_assert(mkdir(root, 0700) == 0 || errno == EEXIST, "mkdir %s", root);
	for (char *s = strchr(path + strlen(root) + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		cr_assert(mkdir(path, 0700) == 0 || errno == EEXIST, "mkdir %s", path);
		*s = '/';
	}
	FILE *f = fopen(path, "wb");
	cr_assert(f, "cannot write %s", path);
	fputs(text, f);
	fclose(f);
	free(path);
}

static int import(const char *email, const char *dir, const char *flag1, const char *flag2,
                  struct cli_result *r)
{
	const char *argv[8] = {"import", "--user", email};
	int n = 3;
	if (flag1)
		argv[n++] = flag1;
	if (flag2)
		argv[n++] = flag2;
	argv[n++] = dir;
	argv[n] = NULL;
	return cli_run_argv(r, CLI_TIMEOUT_MS, srv.dir, NULL, NULL, argv);
}

/* import() that must exit with status and print summary (the one line at the end). */
static void import_expect(const char *email, const char *dir, const char *flag1, const char *flag2,
                          int status, const char *summary)
{
	struct cli_result r;
	import(email, dir, flag1, flag2, &r);
	cr_assert_eq(r.status, status, "exit %d, expected %d\nout: %s\nerr: %s", r.status, status,
	             r.out, r.err);
	cr_assert(strstr(r.out, summary), "summary: want \"%s\" in:\n%s\nerr: %s", summary, r.out,
	          r.err);
	cli_result_free(&r);
}

/* The user's notes (GET /api/v1/notes, up to 100); caller json_decref()s. */
static json_t *notes_of(const char *token)
{
	struct http_resp h;
	cr_assert_eq(api(&srv, "GET", "/api/v1/notes?limit=100", token, NULL, &h), 200);
	json_t *items = json_incref(json_object_get(h.json, "items"));
	http_resp_free(&h);
	return items;
}

/* The note titled title in notes (borrowed), or NULL. */
static json_t *by_title(json_t *notes, const char *title)
{
	size_t i;
	json_t *n;
	json_array_foreach(notes, i, n)
	{
		if (strcmp(json_string_value(json_object_get(n, "title")), title) == 0)
			return n;
	}
	return NULL;
}

static long long id_of(json_t *notes, const char *title)
{
	json_t *n = by_title(notes, title);
	cr_assert(n, "no note titled \"%s\"", title);
	return json_integer_value(json_object_get(n, "id"));
}

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	cr_assert(s, "no string \"%s\" in %s", key, json_dumps(o, JSON_COMPACT));
	return s;
}

/* GET /api/v1/notes/{id}/links as token; returns the status, *out the body (caller decrefs). */
static int links_of(const char *token, long long id, json_t **out)
{
	struct http_resp h;
	char *path = it_asprintf("/api/v1/notes/%lld/links", id);
	int status = api(&srv, "GET", path, token, NULL, &h);
	*out = json_incref(h.json);
	if (status != 200)
		assert_error_body(&h, "links");
	http_resp_free(&h);
	free(path);
	return status;
}

/* A link's one line: "kind target -> title" ("-> null" when unresolved). */
static char *link_line(json_t *l)
{
	json_t *title = json_object_get(l, "title");
	return it_asprintf("%s %s -> %s", str(l, "kind"), str(l, "target"),
	                   json_is_string(title) ? json_string_value(title) : "null");
}

/* The lines of a list of links joined by "; ". */
static char *link_lines(json_t *list)
{
	char *all = it_strdup("");
	size_t i;
	json_t *l;
	json_array_foreach(list, i, l)
	{
		char *line = link_line(l), *next = it_asprintf("%s%s%s", all, i ? "; " : "", line);
		free(all);
		free(line);
		all = next;
	}
	return all;
}

/* One number from sql on the server's database, SQLite or PostgreSQL. */
static long long db_count(const char *sql)
{
	long long v = -1;
	if (it_pg()) {
		PGconn *c = PQconnectdb(srv.db_url);
		PGresult *r = PQexec(c, sql);
		cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQerrorMessage(c));
		v = atoll(PQgetvalue(r, 0, 0));
		PQclear(r);
		PQfinish(c);
	} else {
		char *path = it_asprintf("%s/vault.db", srv.dir);
		sqlite3 *db;
		sqlite3_stmt *st;
		cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
		cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s",
		             sqlite3_errmsg(db));
		cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
		v = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		sqlite3_close(db);
		free(path);
	}
	return v;
}

/* The fixture vault: every form the issue names. */
static char *write_vault(const char *name)
{
	char *v = it_asprintf("%s/%s", srv.dir, name);
	put(v, "Front.md",
	    "---\n"
	    "Title: Front Title\n"
	    "tags: [alpha, \"beta\"]\n"
	    "aliases:\n"
	    "  - Fronty\n"
	    "created: 2021-03-04T05:06:07Z\n"
	    "updated: 2022-01-02T03:04:05Z\n"
	    "---\n"
	    "# Heading\n\n"
	    "Text with #inline and #nested/tag.\n\n"
	    "```\n#notatag in code\n```\n\n"
	    "A paragraph. ^block\n");
	put(v, "Comma.md", "---\ntags: one, two\n---\n# From Heading\n\nbody\n");
	put(v, "Plain.md", "just text\n");
	put(v, "Links.md",
	    "[[Plain]] [[Comma|an alias]] [[Front#Heading]] [[Deep^block]] [[Nowhere]]\n\n"
	    "![[Embedded]] ![[image.png]] [[Plain]]\n");
	put(v, "sub/Deep.md", "deep down\n");
	put(v, "Embedded.md", "Embedded text about zebrafish.\n\n![[Links]]\n");
	put(v, "Ünïcödé 日本.md", "[[Plain]] and [[ÜNÏCÖDÉ 日本]]\n");
	put(v, "Broken.md", "---\ntitle: [unclosed\n---\nstill a note\n");
	put(v, "notes.txt", "a plain text file\n");
	put(v, "image.png", "\x89PNG\r\n");
	put(v, ".obsidian/workspace.md", "not a note\n");
	put(v, ".trash/old.md", "not a note\n");
	/* Symbolic links out of the folder are not followed. */
	char *outside = it_asprintf("%s/outside", srv.dir);
	put(outside, "secret.md", "outside the vault\n");
	char *link = it_asprintf("%s/Linked.md", v), *dlink = it_asprintf("%s/linked", v);
	char *target = it_asprintf("%s/secret.md", outside);
	cr_assert_eq(symlink(target, link), 0);
	cr_assert_eq(symlink(outside, dlink), 0);
	free(outside), free(link), free(dlink), free(target);
	return v;
}

Test(import, obsidian_vault_into_notes_and_links)
{
	server_start(&srv, NULL);
	struct it_user a, b;
	user_new(&srv, &a);
	user_new(&srv, &b);
	char *v = write_vault("vault");

	/* A dry run says what would change and writes nothing. */
	struct cli_result r;
	cr_assert_eq(import(a.email, v, "--dry-run", NULL, &r), 0, "%s", r.err);
	cr_expect(strstr(r.out, "added Front.md\n"), "%s", r.out);
	cr_expect(strstr(r.out, "dry run, nothing written: added 9, updated 0"), "%s", r.out);
	cli_result_free(&r);
	json_t *notes = notes_of(a.access);
	cr_assert_eq(json_array_size(notes), 0);
	json_decref(notes);

	cr_assert_eq(import(a.email, v, NULL, NULL, &r), 0, "%s", r.err);
	cr_expect(strstr(r.out, "added 9, updated 0, unchanged 0, renamed 0, deleted 0, kept 0, "
	                        "failed 0\n"),
	          "%s", r.out);
	cr_expect(strstr(r.err, "Broken.md: front matter"), "no warning for bad YAML: %s", r.err);
	cr_expect_null(strchr(r.err, '\r'), "a progress bar where stderr is no terminal: %s",
	               r.err);
	cli_result_free(&r);

	notes = notes_of(a.access);
	cr_assert_eq(json_array_size(notes), 9, "%s", json_dumps(notes, JSON_COMPACT));
	const char *titles[] = {"Front Title", "From Heading", "Plain",  "Links", "Deep",
	                        "Embedded",    "Ünïcödé 日本", "Broken", "notes"};
	for (size_t i = 0; i < 9; i++)
		cr_expect(by_title(notes, titles[i]), "no note \"%s\"", titles[i]);

	/* Front matter: title, tags then inline tags (not in code), aliases, dates. */
	json_t *front = by_title(notes, "Front Title");
	char *tags = json_dumps(json_object_get(front, "tags"), JSON_COMPACT);
	cr_expect_str_eq(tags, "[\"alpha\",\"beta\",\"inline\",\"nested/tag\"]");
	cr_expect_str_eq(str(front, "created_at"), "2021-03-04T05:06:07.000Z");
	cr_expect_str_eq(str(front, "updated_at"), "2022-01-02T03:04:05.000Z");
	cr_expect_str_eq(str(front, "source_path"), "Front.md");
	char *aliases = json_dumps(json_object_get(front, "aliases"), JSON_COMPACT);
	cr_expect_str_eq(aliases, "[\"Fronty\"]");
	cr_expect(strncmp(str(front, "content"), "# Heading\n", 10) == 0, "%s",
	          str(front, "content"));
	char *ctags =
	    json_dumps(json_object_get(by_title(notes, "From Heading"), "tags"), JSON_COMPACT);
	cr_expect_str_eq(ctags, "[\"one\",\"two\"]");
	cr_expect(strstr(str(by_title(notes, "Broken"), "content"), "title: [unclosed"),
	          "bad YAML stays in the text");
	cr_expect_str_eq(str(by_title(notes, "Deep"), "source_path"), "sub/Deep.md");

	/* Every link form resolves; unresolved kept; attachments and repeats are not links. */
	json_t *l;
	cr_assert_eq(links_of(a.access, id_of(notes, "Links"), &l), 200);
	char *out = link_lines(json_object_get(l, "outgoing"));
	cr_expect_str_eq(out, "link Plain -> Plain; link Comma -> From Heading; link Front -> "
	                      "Front Title; link Deep -> Deep; link Nowhere -> null; "
	                      "embed Embedded -> Embedded");
	char *back = link_lines(json_object_get(l, "backlinks"));
	cr_expect_str_eq(back, "embed Links -> Embedded");
	json_decref(l);
	cr_assert_eq(links_of(a.access, id_of(notes, "Plain"), &l), 200);
	char *pback = link_lines(json_object_get(l, "backlinks"));
	cr_expect_str_eq(pback, "link Plain -> Links; link Plain -> Ünïcödé 日本");
	json_decref(l);
	cr_assert_eq(links_of(a.access, id_of(notes, "Ünïcödé 日本"), &l), 200);
	char *self = link_lines(json_object_get(l, "outgoing"));
	cr_expect_str_eq(self, "link Plain -> Plain; link ÜNÏCÖDÉ 日本 -> Ünïcödé 日本",
	                 "case and Unicode folded");
	json_decref(l);

	/* Another user: the note does not exist, and B has no notes. */
	cr_assert_eq(links_of(b.access, id_of(notes, "Links"), &l), 404);
	json_decref(l);
	json_t *bnotes = notes_of(b.access);
	cr_expect_eq(json_array_size(bnotes), 0);
	json_decref(bnotes);

	/* Embeds go into what is indexed (the chunks), not into the content; the cycle stops. */
	cr_expect_null(strstr(str(by_title(notes, "Links"), "content"), "zebrafish"));
	cr_expect_eq(db_count("SELECT count(*) FROM chunks c JOIN notes n ON n.id = c.note_id "
	                      "WHERE n.title = 'Links' AND c.text LIKE '%zebrafish%'"),
	             1);

	/* Again: nothing changes. */
	const char *updated = str(by_title(notes, "Links"), "updated_at");
	import_expect(a.email, v, NULL, NULL, 0,
	              "added 0, updated 0, unchanged 9, renamed 0, deleted 0, kept 0, failed 0");
	json_t *again = notes_of(a.access);
	cr_expect_str_eq(str(by_title(again, "Links"), "updated_at"), updated);
	json_decref(again);

	free(tags), free(aliases), free(ctags), free(out), free(back), free(pback), free(self);
	json_decref(notes);
	free(v);
	user_free(&a);
	user_free(&b);
	server_stop_ok(&srv);
}

Test(import, incremental_rename_change_prune_and_failures)
{
	server_start(&srv, NULL);
	struct it_user a;
	user_new(&srv, &a);
	char *v = it_asprintf("%s/inc", srv.dir);
	put(v, "a.md", "---\ntitle: Note A\n---\nfirst\n");
	put(v, "b.md", "links to [[a]]\n");
	put(v, "c.md", "see\n");
	put(v, "bad.md", "not \xff UTF-8\n");

	/* A file that cannot be read as text fails alone, and the exit says so. */
	struct cli_result r;
	cr_assert_eq(import(a.email, v, NULL, NULL, &r), 1, "%s", r.err);
	cr_expect(strstr(r.err, "bad.md: the file is not UTF-8 text"), "%s", r.err);
	cr_expect(strstr(r.out, "added 3, updated 0, unchanged 0, renamed 0, deleted 0, kept 0, "
	                        "failed 1"),
	          "%s", r.out);
	cli_result_free(&r);
	put(v, "bad.md", "now UTF-8\n");
	import_expect(a.email, v, NULL, NULL, 0, "added 1, updated 0, unchanged 3");

	json_t *notes = notes_of(a.access);
	long long ida = id_of(notes, "Note A"), idc = id_of(notes, "c");
	json_decref(notes);

	/* A change updates the same note. */
	put(v, "a.md", "---\ntitle: Note A\n---\nsecond\n");
	import_expect(a.email, v, NULL, NULL, 0, "added 0, updated 1, unchanged 3");
	struct http_resp h;
	cr_assert_eq(note_get(&srv, a.access, ida, &h), 200);
	cr_expect_str_eq(resp_str(&h, "content"), "second\n");
	http_resp_free(&h);

	/* Renames keep their notes: titled by the name, the title follows; the link from b
	 * to "a" no longer resolves, as in Obsidian after a rename outside it. */
	char *from = it_asprintf("%s/c.md", v), *to = it_asprintf("%s/sub/c2.md", v);
	char *sub = it_asprintf("%s/sub", v);
	cr_assert_eq(mkdir(sub, 0700), 0);
	cr_assert_eq(rename(from, to), 0);
	char *afrom = it_asprintf("%s/a.md", v), *ato = it_asprintf("%s/a2.md", v);
	cr_assert_eq(rename(afrom, ato), 0);
	cr_assert_eq(import(a.email, v, "--dry-run", NULL, &r), 0, "%s", r.err);
	cr_expect(strstr(r.out, "renamed c.md -> sub/c2.md\n"), "%s", r.out);
	cli_result_free(&r);
	import_expect(a.email, v, NULL, NULL, 0, "added 0, updated 0, unchanged 2, renamed 2");
	cr_assert_eq(note_get(&srv, a.access, idc, &h), 200);
	cr_expect_str_eq(resp_str(&h, "title"), "c2");
	cr_expect_str_eq(resp_str(&h, "source_path"), "sub/c2.md");
	http_resp_free(&h);
	cr_assert_eq(note_get(&srv, a.access, ida, &h), 200);
	cr_expect_str_eq(resp_str(&h, "title"), "Note A");
	cr_expect_str_eq(resp_str(&h, "source_path"), "a2.md");
	http_resp_free(&h);
	notes = notes_of(a.access);
	json_t *l;
	cr_assert_eq(links_of(a.access, id_of(notes, "b"), &l), 200);
	char *out = link_lines(json_object_get(l, "outgoing"));
	cr_expect_str_eq(out, "link a -> null");
	json_decref(l);
	long long idb = id_of(notes, "b");
	json_decref(notes);

	/* A file gone: kept; a dry run with --prune says it would go; --prune deletes it. */
	char *bpath = it_asprintf("%s/b.md", v);
	cr_assert_eq(unlink(bpath), 0);
	import_expect(a.email, v, NULL, NULL, 0, "deleted 0, kept 1, failed 0");
	cr_assert_eq(import(a.email, v, "--prune", "--dry-run", &r), 0, "%s", r.err);
	cr_expect(strstr(r.out, "deleted b.md\n"), "%s", r.out);
	cr_expect(strstr(r.out, "dry run, nothing written: added 0, updated 0, unchanged 3, "
	                        "renamed 0, deleted 1"),
	          "%s", r.out);
	cli_result_free(&r);
	cr_assert_eq(note_get(&srv, a.access, idb, &h), 200);
	http_resp_free(&h);
	import_expect(a.email, v, "--prune", NULL, 0, "unchanged 3, renamed 0, deleted 1, kept 0");
	cr_assert_eq(note_get(&srv, a.access, idb, &h), 404);
	http_resp_free(&h);

	/* Usage errors and unknown users. */
	cr_expect_eq(import("nobody@example.com", v, NULL, NULL, &r), 1);
	cr_expect(strstr(r.err, "No user with that email"), "%s", r.err);
	cli_result_free(&r);
	cr_expect_eq(import(a.email, "/nonexistent/folder", NULL, NULL, &r), 1);
	cli_result_free(&r);

	free(out), free(from), free(to), free(sub), free(afrom), free(ato), free(bpath), free(v);
	user_free(&a);
	server_stop_ok(&srv);
}

Test(import, embeds_follow_the_notes_they_embed)
{
	server_start(&srv, NULL);
	struct it_user a;
	user_new(&srv, &a);
	char *v = it_asprintf("%s/emb", srv.dir);
	put(v, "host.md", "The host.\n\n![[guest]]\n");
	put(v, "guest.md", "Guest about lighthouses.\n\n![[deep]]\n");
	put(v, "deep.md", "Deep about glaciers.\n");
	import_expect(a.email, v, NULL, NULL, 0, "added 3,");
	const char *host_has = "SELECT count(*) FROM chunks c JOIN notes n ON n.id = c.note_id "
	                       "WHERE n.title = 'host' AND c.text LIKE '%%%s%%'";
	char *q1 = it_asprintf(host_has, "lighthouses"), *q2 = it_asprintf(host_has, "glaciers");
	cr_expect_eq(db_count(q1), 1, "host does not index what it embeds");
	cr_expect_eq(db_count(q2), 1, "host does not index what its embed embeds");

	/* A change two levels down re-indexes the notes above it, and only those. */
	put(v, "deep.md", "Deep about volcanoes.\n");
	struct cli_result r;
	cr_assert_eq(import(a.email, v, "--dry-run", NULL, &r), 0, "%s", r.err);
	cr_expect(strstr(r.out, "updated host.md: re-indexed: a note it embeds changed\n"), "%s",
	          r.out);
	cli_result_free(&r);
	import_expect(a.email, v, NULL, NULL, 0, "added 0, updated 3, unchanged 0");
	char *q3 = it_asprintf(host_has, "volcanoes");
	cr_expect_eq(db_count(q2), 0);
	cr_expect_eq(db_count(q3), 1);
	json_t *notes = notes_of(a.access);
	cr_expect_str_eq(str(by_title(notes, "host"), "content"), "The host.\n\n![[guest]]\n");
	json_decref(notes);
	import_expect(a.email, v, NULL, NULL, 0, "added 0, updated 0, unchanged 3");
	free(q1), free(q2), free(q3), free(v);
	user_free(&a);
	server_stop_ok(&srv);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The notes of token as comparable lines: title, content, tags, dates, aliases, links. */
static char *describe(const char *token)
{
	json_t *notes = notes_of(token);
	char **lines = calloc(json_array_size(notes) + 1, sizeof(char *));
	size_t i, total = 0;
	json_t *n;
	json_array_foreach(notes, i, n)
	{
		json_t *l;
		cr_assert_eq(links_of(token, json_integer_value(json_object_get(n, "id")), &l),
		             200);
		char *tags = json_dumps(json_object_get(n, "tags"), JSON_COMPACT);
		char *aliases =
		    json_dumps(json_object_get(n, "aliases"), JSON_COMPACT | JSON_ENCODE_ANY);
		char *out = link_lines(json_object_get(l, "outgoing"));
		char *back = link_lines(json_object_get(l, "backlinks"));
		lines[i] =
		    it_asprintf("%s | %s | %s | %s %s | %s | out: %s | back: %s\n", str(n, "title"),
		                str(n, "content"), tags, str(n, "created_at"), str(n, "updated_at"),
		                aliases ? aliases : "-", out, back);
		total += strlen(lines[i]);
		free(tags), free(aliases), free(out), free(back);
		json_decref(l);
	}
	size_t count = json_array_size(notes);
	json_decref(notes);
	qsort(lines, count, sizeof(char *), cmp_str);
	char *all = calloc(total + 1, 1);
	for (i = 0; i < count; i++) {
		strcat(all, lines[i]);
		free(lines[i]);
	}
	free(lines);
	return all;
}

Test(import, round_trip_through_export)
{
	server_start(&srv, NULL);
	struct it_user a, b;
	user_new(&srv, &a);
	user_new(&srv, &b);
	char *v = write_vault("vault");
	import_expect(a.email, v, NULL, NULL, 0, "added 9,");

	char *out = it_asprintf("%s/exported", srv.dir);
	struct cli_result r;
	cr_assert_eq(cli_run(&r, srv.dir, NULL, NULL, "export", "--user", a.email, out, NULL), 0,
	             "%s", r.err);
	cli_result_free(&r);
	import_expect(b.email, out, NULL, NULL, 0, "added 9,");

	/* The same notes, tags, dates, aliases and links (resolved to the same titles). */
	char *da = describe(a.access), *db = describe(b.access);
	cr_expect_str_eq(db, da);

	/* And importing the export again over it changes nothing. */
	import_expect(b.email, out, NULL, NULL, 0, "added 0, updated 0, unchanged 9");
	free(da), free(db), free(out), free(v);
	user_free(&a);
	user_free(&b);
	server_stop_ok(&srv);
}

Test(import, watch_mirrors_an_edit)
{
	server_start(&srv, NULL);
	struct it_user a;
	user_new(&srv, &a);
	char *v = it_asprintf("%s/watched", srv.dir);
	put(v, "w.md", "before\n");
	char *db = it_asprintf("DATABASE_URL=%s", srv.db_url);
	const char *env[] = {db, NULL};
	const char *args[] = {"import", "--user", a.email, "--watch", v, NULL};
	process_start(&watcher, env, args, "import_watching");

	json_t *notes = notes_of(a.access);
	long long id = id_of(notes, "w");
	json_decref(notes);

	/* An edit, then a new file in a new folder: each shows within seconds. */
	put(v, "w.md", "after\n");
	put(v, "new/n.md", "new note\n");
	const char *content = NULL;
	long long total = 0;
	struct http_resp h = {0};
	for (double t0 = it_now_ms(); it_now_ms() - t0 < 10000; it_sleep_ms(100)) {
		http_resp_free(&h);
		cr_assert_eq(note_get(&srv, a.access, id, &h), 200);
		content = resp_str(&h, "content");
		json_t *all = notes_of(a.access);
		total = (long long)json_array_size(all);
		json_decref(all);
		if (strcmp(content, "after\n") == 0 && total == 2)
			break;
	}
	cr_expect_str_eq(content, "after\n", "the edit did not arrive");
	cr_expect_eq(total, 2, "the new file did not arrive");
	http_resp_free(&h);

	int st = server_stop(&watcher);
	char *tail = server_log_tail(&watcher);
	cr_expect_eq(st, 0, "watcher exit %d\n%s", st, tail);
	free(tail);
	free(db), free(v);
	user_free(&a);
	server_stop_ok(&srv);
}
