/*
 * test_export.c - `vault export`: a user's notes (and no one else's) as
 * Markdown files named after their titles, front matter holding the title,
 * tags and times, the file's time the note's update; an export refuses a
 * folder that holds other files unless told to overwrite, and then touches
 * only files of the same name. GET /api/v1/export: the same files in a zip,
 * every note once across pages, nobody else's.
 */
#include "integration/harness.h"

#include <archive.h>
#include <archive_entry.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static struct server srv;

static void cleanup(void)
{
	server_cleanup(&srv);
}

TestSuite(export, .fini = cleanup, .timeout = IT_TIMEOUT(60));

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	static char buf[65536];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return it_strdup(buf);
}

static int run_export(const char *email, const char *out, bool overwrite, struct cli_result *r)
{
	if (overwrite)
		return cli_run(r, srv.dir, NULL, NULL, "export", "--user", email, "--overwrite",
		               out, NULL);
	return cli_run(r, srv.dir, NULL, NULL, "export", "--user", email, out, NULL);
}

Test(export, notes_to_markdown_files)
{
	server_start(&srv, NULL);
	struct it_user a, b;
	user_new(&srv, &a);
	user_new(&srv, &b);
	long long id =
	    note_create(&srv, a.access,
	                "{\"title\":\"Trip: Lisbon/Porto\",\"content\":\"# Day one\\n\\nTrams.\","
	                "\"tags\":[\"travel\",\"2024\"]}");
	note_create(&srv, a.access, "{\"title\":\"trip: lisbon/porto\",\"content\":\"the other\"}");
	note_create(&srv, b.access, "{\"title\":\"B's secret\",\"content\":\"not A's\"}");
	struct http_resp h;
	cr_assert_eq(note_get(&srv, a.access, id, &h), 200);
	int64_t updated = it_parse_iso_ms(resp_str(&h, "updated_at"));
	char *created = it_strdup(resp_str(&h, "created_at"));
	http_resp_free(&h);

	char *out = it_asprintf("%s/export", srv.dir);
	struct cli_result r;
	cr_assert_eq(run_export(a.email, out, false, &r), 0, "exit %d: %s", r.status, r.err);
	cr_expect(strstr(r.out, "exported 2 notes"), "%s", r.out);
	cli_result_free(&r);

	/* The same title ignoring case: one of them gets " 2" (newest first). */
	char *p1 = it_asprintf("%s/Trip- Lisbon-Porto.md", out);
	char *p2 = it_asprintf("%s/trip- lisbon-porto.md", out);
	char *t1 = slurp(p1), *t2 = slurp(p2);
	if (!t1) {
		free(p1);
		p1 = it_asprintf("%s/Trip- Lisbon-Porto 2.md", out);
		t1 = slurp(p1);
	} else {
		free(p2);
		p2 = it_asprintf("%s/trip- lisbon-porto 2.md", out);
		t2 = slurp(p2);
	}
	cr_assert(t1 && t2, "files missing: %s %s", p1, p2);
	char *want = it_asprintf("---\nid: %lld\ntitle: 'Trip: Lisbon/Porto'\ntags:\n- travel\n"
	                         "- '2024'\ncreated: %s\n",
	                         id, created);
	cr_expect(strncmp(t1, want, strlen(want)) == 0, "got:\n%s\nwant the start:\n%s", t1, want);
	cr_expect(strstr(t1, "\n---\n# Day one\n\nTrams.\n"), "content: %s", t1);
	cr_expect(strstr(t2, "\n---\nthe other\n"), "%s", t2);
	struct stat st;
	cr_assert_eq(stat(p1, &st), 0);
	cr_expect_eq((int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000, updated);
	cr_expect_eq(st.st_mode & 0777, 0600, "mode %o", st.st_mode & 0777);
	char *pb = it_asprintf("%s/B's secret.md", out);
	cr_expect_neq(stat(pb, &st), 0, "B's note was exported for A");

	/* Not into a folder that holds files, unless told; then only same names. */
	char *other = it_asprintf("%s/mine.txt", out);
	FILE *f = fopen(other, "w");
	fputs("keep me", f);
	fclose(f);
	FILE *g = fopen(p2, "w");
	fputs("stale", g);
	fclose(g);
	cr_expect_eq(run_export(a.email, out, false, &r), 1);
	cr_expect(strstr(r.err, "not empty"), "%s", r.err);
	cli_result_free(&r);
	cr_assert_eq(run_export(a.email, out, true, &r), 0, "%s", r.err);
	cli_result_free(&r);
	char *kept = slurp(other), *t2b = slurp(p2);
	cr_expect_str_eq(kept, "keep me");
	cr_expect(strstr(t2b, "\n---\nthe other\n"), "not replaced: %s", t2b);

	/* An unknown user: one line, exit 1. */
	cr_expect_eq(run_export("nobody@example.com", out, true, &r), 1);
	cr_expect(strstr(r.err, "No user with that email"), "%s", r.err);
	cli_result_free(&r);
	free(kept), free(t2b), free(other), free(pb), free(want), free(t1), free(t2), free(p1),
	    free(p2), free(out), free(created);
	user_free(&a);
	user_free(&b);
	server_stop_ok(&srv);
}

/* A zip's entries: names and texts, in order (n of them). */
struct zip_entries {
	char *name[256], *text[256];
	size_t n;
};

static void unzip_all(const char *data, size_t len, struct zip_entries *z)
{
	setlocale(LC_CTYPE, "C.UTF-8"); /* libarchive reads names in the locale's charset */
	struct archive *a = archive_read_new();
	archive_read_support_format_zip(a);
	cr_assert_eq(archive_read_open_memory(a, data, len), ARCHIVE_OK, "not a zip: %s",
	             archive_error_string(a));
	struct archive_entry *e;
	z->n = 0;
	int rc;
	while ((rc = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		cr_assert_lt(z->n, 256, "more entries than expected");
		la_int64_t size = archive_entry_size(e);
		char *text = malloc((size_t)size + 1);
		cr_assert_eq(archive_read_data(a, text, (size_t)size), size, "%s",
		             archive_error_string(a));
		text[size] = '\0';
		z->name[z->n] = it_strdup(archive_entry_pathname_utf8(e));
		z->text[z->n++] = text;
	}
	cr_assert_eq(rc, ARCHIVE_EOF, "%s", archive_error_string(a));
	archive_read_free(a);
}

static void zip_entries_free(struct zip_entries *z)
{
	for (size_t i = 0; i < z->n; i++) {
		free(z->name[i]);
		free(z->text[i]);
	}
}

Test(export, http_zip_of_ones_own_notes)
{
	server_start(&srv, NULL);
	struct it_user a, b;
	user_new(&srv, &a);
	user_new(&srv, &b);
	/* More than one page of notes (100 a page), two with one title. */
	enum { N = 105 };
	for (int i = 0; i < N - 2; i++) {
		char *body = it_asprintf("{\"title\":\"Note %03d\",\"content\":\"body %d\"}", i, i);
		note_create(&srv, a.access, body);
		free(body);
	}
	note_create(&srv, a.access,
	            "{\"title\":\"Café: Lisbon/Porto\",\"content\":\"Trams.\","
	            "\"tags\":[\"travel\",\"2024\"]}");
	note_create(&srv, a.access, "{\"title\":\"café: lisbon/porto\",\"content\":\"the other\"}");
	note_create(&srv, b.access, "{\"title\":\"B's secret\",\"content\":\"not A's\"}");

	struct http_resp r;
	api(&srv, "GET", "/api/v1/export", a.access, NULL, &r);
	cr_assert_eq(r.status, 200, "%d %.300s", r.status, r.body);
	cr_assert_str_eq(http_header(&r, "Content-Type"), "application/zip");
	cr_assert_str_eq(http_header(&r, "Content-Disposition"),
	                 "attachment; filename=\"vault-export.zip\"");
	struct zip_entries z;
	unzip_all(r.body, r.body_len, &z);
	http_resp_free(&r);
	cr_assert_eq(z.n, N, "%zu files for %d notes", z.n, N);
	size_t travel = 0, numbered = 0, cafe = 0;
	for (size_t i = 0; i < z.n; i++) {
		cr_assert(!it_contains(z.text[i], "B's secret", false), "B's note in A's export");
		for (size_t j = 0; j < i; j++)
			cr_assert(strcasecmp(z.name[i], z.name[j]) != 0, "two files named %s",
			          z.name[i]);
		numbered += strncmp(z.name[i], "Note ", 5) == 0;
		cafe +=
		    strncasecmp(z.name[i], "Café- Lisbon-Porto", strlen("Café- Lisbon-Porto")) == 0;
		if (it_contains(z.text[i], "Trams.", false)) {
			travel++;
			/* Oldest first: the first of two notes of one title gets the plain name. */
			cr_assert_str_eq(z.name[i], "Café- Lisbon-Porto.md");
			cr_assert(
			    it_contains(z.text[i], "title: 'Café: Lisbon/Porto'", false) ||
			        it_contains(z.text[i], "title: \"Café: Lisbon/Porto\"", false),
			    "%s", z.text[i]);
			cr_assert(it_contains(z.text[i], "travel", false), "%s", z.text[i]);
		}
	}
	cr_assert_eq(numbered, N - 2);
	cr_assert_eq(cafe, 2);
	cr_assert_eq(travel, 1);
	zip_entries_free(&z);

	api(&srv, "GET", "/api/v1/export", NULL, NULL, &r);
	cr_assert_eq(r.status, 401, "%d %.300s", r.status, r.body);
	http_resp_free(&r);
	user_free(&a);
	user_free(&b);
	server_stop_ok(&srv);
}
