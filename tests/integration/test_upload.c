/*
 * test_upload.c - POST /api/v1/import: Markdown and text files, PDFs (made
 * here with cairo) and zipped vaults (made here with libarchive) uploaded
 * as multipart/form-data become notes with `vault import`'s rules; a PDF's
 * pages become sections that search names; what cannot be imported fails
 * alone, or answers 4xx when it is all there is; nothing reaches another
 * user, and a read token cannot import.
 */
#include "integration/harness.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <string.h>

#include "common/make_pdf.h"

static struct server srv;

static void cleanup(void)
{
	server_cleanup(&srv);
}

TestSuite(upload, .fini = cleanup, .timeout = IT_TIMEOUT(120));

#define BOUNDARY "vault-test-7MA4YWxkTrZu0gW"

struct part {
	const char *name;
	const char *data;
	size_t len; /* 0: strlen(data) */
};

/* POST /api/v1/import[?query] of parts as multipart/form-data. */
static int upload(const char *token, const char *query, const struct part *parts, size_t n,
                  struct http_resp *r)
{
	char *body = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&body, &len);
	for (size_t i = 0; i < n; i++) {
		fprintf(f,
		        "--" BOUNDARY "\r\nContent-Disposition: form-data; name=\"file\"; "
		        "filename=\"%s\"\r\nContent-Type: application/octet-stream\r\n\r\n",
		        parts[i].name);
		fwrite(parts[i].data, 1, parts[i].len ? parts[i].len : strlen(parts[i].data), f);
		fputs("\r\n", f);
	}
	fputs("--" BOUNDARY "--\r\n", f);
	fclose(f);
	char *path = it_asprintf("/api/v1/import%s%s", query ? "?" : "", query ? query : "");
	const char *headers[] = {"Content-Type: multipart/form-data; boundary=" BOUNDARY, NULL};
	struct http_req q = {.method = "POST",
	                     .path = path,
	                     .headers = headers,
	                     .token = token,
	                     .body = body,
	                     .body_len = len};
	http_req(&srv, &q, r);
	free(path);
	free(body);
	return r->status;
}

/* A zip of name/text pairs (NULL-terminated), written in memory. */
static char *make_zip(const char *const *files, size_t *len)
{
	size_t cap = 1 << 20, used = 0;
	char *out = malloc(cap);
	struct archive *a = archive_write_new();
	archive_write_set_format_zip(a);
	archive_write_set_options(a, "zip:hdrcharset=UTF-8");
	cr_assert_eq(archive_write_open_memory(a, out, cap, &used), ARCHIVE_OK);
	for (size_t i = 0; files[i]; i += 2) {
		struct archive_entry *e = archive_entry_new();
		archive_entry_set_pathname_utf8(e, files[i]);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, (la_int64_t)strlen(files[i + 1]));
		cr_assert_eq(archive_write_header(a, e), ARCHIVE_OK, "%s", archive_error_string(a));
		archive_write_data(a, files[i + 1], strlen(files[i + 1]));
		archive_entry_free(e);
	}
	archive_write_close(a);
	archive_write_free(a);
	*len = used;
	return out;
}

static json_t *files_of(const struct http_resp *r)
{
	json_t *f = r->json ? json_object_get(r->json, "files") : NULL;
	cr_assert(json_is_array(f), "no files in the report: %.500s", r->body);
	return f;
}

static long long count(const struct http_resp *r, const char *outcome)
{
	json_t *v = r->json ? json_object_get(r->json, outcome) : NULL;
	cr_assert(json_is_integer(v), "no %s count: %.500s", outcome, r->body);
	return (long long)json_integer_value(v);
}

/* The report's line for path: "outcome" or "outcome: detail". */
static char *outcome_of(const struct http_resp *r, const char *path)
{
	json_t *files = files_of(r), *f;
	size_t i;
	json_array_foreach(files, i, f)
	{
		if (strcmp(json_string_value(json_object_get(f, "path")), path) != 0)
			continue;
		const char *d = json_string_value(json_object_get(f, "detail"));
		const char *o = json_string_value(json_object_get(f, "outcome"));
		return d ? it_asprintf("%s: %s", o, d) : it_strdup(o);
	}
	return it_strdup("(absent)");
}

/* The user's notes, by title: {title: note}. */
static json_t *notes_by_title(const char *token)
{
	struct http_resp r;
	cr_assert_eq(api(&srv, "GET", "/api/v1/notes?limit=100", token, NULL, &r), 200);
	json_t *out = json_object(), *n;
	size_t i;
	json_array_foreach(json_object_get(r.json, "items"), i, n)
	{
		long long id = (long long)json_integer_value(json_object_get(n, "id"));
		struct http_resp one;
		cr_assert_eq(note_get(&srv, token, id, &one), 200);
		json_object_set(out, json_string_value(json_object_get(n, "title")), one.json);
		http_resp_free(&one);
	}
	http_resp_free(&r);
	return out;
}

static const char *field(json_t *notes, const char *title, const char *key)
{
	json_t *n = json_object_get(notes, title);
	cr_assert(n, "no note titled %s", title);
	json_t *v = json_object_get(n, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

Test(upload, markdown_text_and_a_zipped_vault)
{
	server_start(&srv, NULL);
	struct it_user a, b;
	user_new(&srv, &a);
	user_new(&srv, &b);

	/* Files of a folder, as a browser sends them: with their paths. */
	struct part loose[] = {
	    {"Loose/Groceries.md", "---\ntitle: Shopping\ntags: [home]\n---\nMilk and #bread.\n"},
	    {"Loose/todo.txt", "call the plumber\n"},
	};
	struct http_resp r;
	cr_assert_eq(upload(a.access, NULL, loose, 2, &r), 200, "%.500s", r.body);
	cr_assert_eq(count(&r, "added"), 2, "%s", r.body);
	cr_assert_eq(count(&r, "failed"), 0, "%s", r.body);
	http_resp_free(&r);

	/* A zipped vault folder: its one top folder is not part of the paths. */
	size_t zlen;
	char *zip = make_zip(
	    (const char *const[]){"MyVault/Index.md", "Start at [[Deep]] and [[Missing]].\n",
	                          "MyVault/sub/Deep.md", "# Deep note\n\ndeep text\n",
	                          "MyVault/pic.png", "\x89PNG", NULL},
	    &zlen);
	struct part z = {"MyVault.zip", zip, zlen};
	cr_assert_eq(upload(a.access, NULL, &z, 1, &r), 200, "%.500s", r.body);
	cr_assert_eq(count(&r, "added"), 2, "the png is not a note: %s", r.body);
	/* A zip alone is the whole vault: the loose files, not in it, are kept (never deleted). */
	cr_assert_eq(count(&r, "kept"), 2, "%s", r.body);
	cr_assert_eq(count(&r, "deleted"), 0, "%s", r.body);
	char *o = outcome_of(&r, "sub/Deep.md");
	cr_assert_str_eq(o, "added");
	free(o);
	http_resp_free(&r);

	json_t *notes = notes_by_title(a.access);
	cr_assert_eq(json_object_size(notes), 4, "%s", json_dumps(notes, 0));
	cr_assert_str_eq(field(notes, "Shopping", "source_path"), "Loose/Groceries.md");
	cr_assert_str_eq(field(notes, "todo", "content"), "call the plumber\n");
	cr_assert_str_eq(field(notes, "Deep note", "source_path"), "sub/Deep.md");
	json_t *tags = json_object_get(json_object_get(notes, "Shopping"), "tags");
	cr_assert_eq(json_array_size(tags), 2, "front matter and inline tags");
	long long index =
	    (long long)json_integer_value(json_object_get(json_object_get(notes, "Index"), "id"));
	long long deep = (long long)json_integer_value(
	    json_object_get(json_object_get(notes, "Deep note"), "id"));
	json_decref(notes);

	/* The zip's links resolve inside it; the missing one is kept unresolved. */
	char *path = it_asprintf("/api/v1/notes/%lld/links", index);
	cr_assert_eq(api(&srv, "GET", path, a.access, NULL, &r), 200, "%.300s", r.body);
	json_t *out = json_object_get(r.json, "outgoing");
	cr_assert_eq(json_array_size(out), 2, "%s", r.body);
	cr_assert_eq(json_integer_value(json_object_get(json_array_get(out, 0), "note_id")), deep);
	cr_assert(json_is_null(json_object_get(json_array_get(out, 1), "note_id")), "%s", r.body);
	http_resp_free(&r);
	free(path);

	/* The same zip again changes nothing; a dry run says so too. */
	cr_assert_eq(upload(a.access, "dry_run=true", &z, 1, &r), 200, "%.500s", r.body);
	cr_assert(json_is_true(json_object_get(r.json, "dry_run")));
	cr_assert_eq(count(&r, "unchanged"), 2, "%s", r.body);
	cr_assert_eq(count(&r, "added") + count(&r, "updated"), 0, "%s", r.body);
	http_resp_free(&r);
	free(zip);

	/* Alone, the zip again with a file moved: the note moves with it. */
	char *moved = make_zip(
	    (const char *const[]){"MyVault/Index.md", "Start at [[Deep]] and [[Missing]].\n",
	                          "MyVault/archive/Deep.md", "# Deep note\n\ndeep text\n", NULL},
	    &zlen);
	struct part mz = {"MyVault.zip", moved, zlen};
	cr_assert_eq(upload(a.access, NULL, &mz, 1, &r), 200, "%.500s", r.body);
	cr_assert_eq(count(&r, "renamed"), 1, "%s", r.body);
	o = outcome_of(&r, "archive/Deep.md");
	cr_assert_str_eq(o, "renamed");
	free(o);
	http_resp_free(&r);
	free(moved);
	/* Loose files are some of the vault: a copy under another name is a new note, and
	 * nothing else is gone. */
	struct part copy = {"Loose/todo copy.txt", "call the plumber\n"};
	cr_assert_eq(upload(a.access, NULL, &copy, 1, &r), 200, "%.500s", r.body);
	cr_assert_eq(count(&r, "added"), 1, "%s", r.body);
	cr_assert_eq(count(&r, "renamed") + count(&r, "kept"), 0, "%s", r.body);
	http_resp_free(&r);
	notes = notes_by_title(a.access);
	cr_assert_eq(json_object_size(notes), 5, "%s", json_dumps(notes, 0));
	cr_assert_str_eq(field(notes, "Deep note", "source_path"), "archive/Deep.md");
	json_decref(notes);

	/* B sees none of it. */
	cr_assert_eq(api(&srv, "GET", "/api/v1/notes", b.access, NULL, &r), 200);
	cr_assert_eq(json_integer_value(json_object_get(r.json, "total")), 0, "%s", r.body);
	http_resp_free(&r);
	user_free(&a);
	user_free(&b);
	server_stop_ok(&srv);
}

Test(upload, pdf_pages_become_sections_search_names)
{
	server_start(&srv, NULL);
	struct it_user a;
	user_new(&srv, &a);
	struct test_pdf pdf =
	    test_pdf_make((const char *const[]){"Warranty terms for the dishwasher",
	                                        "Descale the boiler every October"},
	                  2);
	struct part p = {"Manuals/Appliances.pdf", pdf.p, pdf.len};
	struct http_resp r;
	cr_assert_eq(upload(a.access, NULL, &p, 1, &r), 200, "%.500s", r.body);
	cr_assert_eq(count(&r, "added"), 1, "%s", r.body);
	http_resp_free(&r);
	json_t *notes = notes_by_title(a.access);
	const char *content = field(notes, "Appliances", "content");
	cr_assert(content && strstr(content, "# Page 1\n\nWarranty terms") &&
	              strstr(content, "# Page 2\n\nDescale the boiler"),
	          "%s", content);
	json_decref(notes);

	struct it_index ix;
	index_wait_settled(&srv, a.access, EMBED_TIMEOUT_MS, &ix);
	cr_assert_eq(api(&srv, "GET", "/api/v1/search?query=descale+boiler&mode=keyword", a.access,
	                 NULL, &r),
	             200, "%.300s", r.body);
	json_t *hit = json_array_get(json_object_get(r.json, "results"), 0);
	cr_assert(hit, "no hit: %.300s", r.body);
	cr_assert_str_eq(json_string_value(json_object_get(hit, "section")), "Page 2");
	http_resp_free(&r);
	test_pdf_free(&pdf);
	user_free(&a);
	server_stop_ok(&srv);
}

Test(upload, bad_files_fail_alone_or_answer_4xx)
{
	server_start(&srv, NULL);
	struct it_user a;
	user_new(&srv, &a);
	struct http_resp r;

	/* One bad file among good ones fails alone. */
	struct test_pdf scan = test_pdf_make((const char *const[]){NULL}, 1);
	struct part mixed[] = {
	    {"good.md", "fine\n"},
	    {"photo.jpg", "\xff\xd8\xff"},
	    {"scan.pdf", scan.p, scan.len},
	    {"../escape.md", "out of the folder\n"},
	};
	cr_assert_eq(upload(a.access, NULL, mixed, 4, &r), 200, "%.500s", r.body);
	cr_assert_eq(count(&r, "added"), 1, "%s", r.body);
	cr_assert_eq(count(&r, "failed"), 3, "%s", r.body);
	char *o = outcome_of(&r, "photo.jpg");
	cr_assert(strstr(o, "failed: not a .md, .txt, .pdf or .zip"), "%s", o);
	free(o);
	o = outcome_of(&r, "scan.pdf");
	cr_assert(strncmp(o, "failed: ", 8) == 0 && strstr(o, "text"), "%s", o);
	free(o);
	o = outcome_of(&r, "../escape.md");
	cr_assert(strncmp(o, "failed: ", 8) == 0, "%s", o);
	free(o);
	http_resp_free(&r);

	/* Nothing but a bad file: 422 naming it. */
	struct part bad = {"notes.docx", "PK\x03\x04"};
	cr_assert_eq(upload(a.access, NULL, &bad, 1, &r), 422, "%.500s", r.body);
	cr_assert(it_contains(resp_str(&r, "detail"), "notes.docx", false), "%s", r.body);
	http_resp_free(&r);

	/* A zip whose path leaves the folder is refused whole. */
	size_t zlen;
	char *zip = make_zip(
	    (const char *const[]){"ok.md", "fine\n", "../../etc/evil.md", "escape\n", NULL}, &zlen);
	struct part z = {"evil.zip", zip, zlen};
	cr_assert_eq(upload(a.access, NULL, &z, 1, &r), 422, "%.500s", r.body);
	cr_assert(it_contains(resp_str(&r, "detail"), "evil.zip", false), "%s", r.body);
	http_resp_free(&r);
	free(zip);

	/* Not multipart, no files, no token. */
	cr_assert_eq(api(&srv, "POST", "/api/v1/import", a.access, "{}", &r), 415, "%.300s",
	             r.body);
	http_resp_free(&r);
	cr_assert_eq(upload(a.access, NULL, NULL, 0, &r), 422, "%.300s", r.body);
	http_resp_free(&r);
	cr_assert_eq(upload(NULL, NULL, mixed, 1, &r), 401, "%.300s", r.body);
	http_resp_free(&r);
	cr_assert_eq(upload(a.access, "dry_run=maybe", mixed, 1, &r), 422, "%.300s", r.body);
	http_resp_free(&r);

	/* A read token cannot import. */
	char *tok_body = it_jpack("{s:s,s:s}", "name", "reader", "scope", "read");
	cr_assert_eq(api(&srv, "POST", "/api/v1/tokens", a.access, tok_body, &r), 201, "%.300s",
	             r.body);
	char *reader = it_strdup(resp_str(&r, "token"));
	http_resp_free(&r);
	free(tok_body);
	cr_assert_eq(upload(reader, NULL, mixed, 1, &r), 403, "%.300s", r.body);
	http_resp_free(&r);
	free(reader);

	/* Only good.md became a note. */
	cr_assert_eq(api(&srv, "GET", "/api/v1/notes", a.access, NULL, &r), 200);
	cr_assert_eq(json_integer_value(json_object_get(r.json, "total")), 1, "%s", r.body);
	http_resp_free(&r);
	test_pdf_free(&scan);
	user_free(&a);
	server_stop_ok(&srv);
}

/* A few notes embedded by many cannot make the index grow past the upload's own size. */
Test(upload, embeds_add_at_most_the_uploads_size)
{
	server_start(&srv, (const char *const[]){"EMBED_WORKER=false", NULL});
	struct it_user a;
	user_new(&srv, &a);
	enum { N = 40 };
	char *big = it_repeat("Tide tables and harbour notes. ", 6000); /* ~180 KB */
	const char *files[2 * (N + 1) + 1];
	char *names[N], *texts[N];
	files[0] = "Big.md";
	files[1] = big;
	for (int i = 0; i < N; i++) {
		names[i] = it_asprintf("small %02d.md", i);
		texts[i] = it_asprintf("Small %d embeds ![[Big]]\n", i);
		files[2 + 2 * i] = names[i];
		files[3 + 2 * i] = texts[i];
	}
	files[2 * (N + 1)] = NULL;
	size_t zlen;
	char *zip = make_zip(files, &zlen);
	struct part z = {"embeds.zip", zip, zlen};
	struct http_resp r;
	cr_assert_eq(upload(a.access, NULL, &z, 1, &r), 200, "%.500s", r.body);
	cr_assert_eq(count(&r, "added"), N + 1, "%.500s", r.body);
	/* The budget (the files' bytes) holds one copy of Big, not forty: the rest are told. */
	size_t told = 0, i;
	json_t *f;
	json_array_foreach(files_of(&r), i, f)
	{
		const char *d = json_string_value(json_object_get(f, "detail"));
		told += d && strstr(d, "budget is spent");
	}
	cr_assert_geq(told, N - 2, "%.800s", r.body);
	http_resp_free(&r);
	/* The chunks waiting to be embedded hold about one copy of Big beside the notes. */
	struct it_index ix;
	index_status(&srv, a.access, &ix);
	cr_assert_lt(ix.pending, 2 * (strlen(big) / 1000 + 1) + 2 * N, "pending %lld", ix.pending);
	free(zip);
	for (int k = 0; k < N; k++) {
		free(names[k]);
		free(texts[k]);
	}
	free(big);
	user_free(&a);
	server_stop_ok(&srv);
}
