/*
 * test_export.c - notes as Markdown files: the front matter reads back
 * (through services/obsidian.c) as the same title, tags and times whatever
 * they hold, the content follows unchanged; file names are safe on every
 * common file system and unique ignoring case.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "services/export.h"
#include "services/obsidian.h"
#include "services/unzip.h"

static void round_trip(const char *title, const char *const *tags, size_t ntags,
                       const char *content)
{
	struct note n = {.id = 4217,
	                 .title = (char *)title,
	                 .content = (char *)content,
	                 .tags = (char **)tags,
	                 .ntags = ntags,
	                 .created_at = INT64_C(1709631000123),
	                 .updated_at = INT64_C(1733500000999)};
	char *md = export_markdown(&n);
	cr_assert(strncmp(md, "---\nid: 4217\n", 13) == 0, "the note's id first:\n%s", md);
	struct obsidian_doc d;
	obsidian_parse(md, strlen(md), &d);
	cr_assert_eq(d.warning[0], '\0', "%s\n%s", d.warning, md);
	cr_expect_str_eq(d.title, title, "%s", md);
	cr_expect_eq(d.created_ms, n.created_at, "%s", md);
	cr_expect_eq(d.updated_ms, n.updated_at, "%s", md);
	/* Tags from the front matter come first; the body may add inline ones. */
	cr_assert_geq(d.ntags, ntags, "%s", md);
	for (size_t i = 0; i < ntags; i++)
		cr_expect_str_eq(d.tags[i], tags[i], "%s", md);
	const char *body = md + d.body;
	size_t clen = strlen(content);
	cr_expect(strncmp(body, content, clen) == 0, "body \"%s\" for \"%s\"", body, content);
	cr_expect(strcmp(body + clen, content[clen - 1] == '\n' ? "" : "\n") == 0, "%s", body);
	obsidian_doc_free(&d);
	free(md);
}

Test(export, front_matter_reads_back_whatever_it_holds)
{
	round_trip("Trip to Lisbon", (const char *const[]){"travel", "2024"}, 2, "Day one.\n");
	round_trip("null", (const char *const[]){"true", "~"}, 2, "x");
	round_trip("2024-03-05", NULL, 0, "no tags\n");
	round_trip("a: b # not a comment", (const char *const[]){"#hash", "a, b"}, 2, "y\n");
	round_trip("It's \"quoted\" — and long: "
	           "0123456789012345678901234567890123456789"
	           "0123456789012345678901234567890123456789",
	           (const char *const[]){"home network", "café/ünï"}, 2, "z\n");
	round_trip("- starts like a list", (const char *const[]){"[x]", "{y}"}, 2,
	           "---\nnot: front matter\n---\nThe content starts with a rule.\n");
}

static char *name(struct export_names *used, const char *title)
{
	return export_file_name(used, title);
}

Test(export, file_names_are_safe_and_unique)
{
	struct export_names used = {0};
	const struct {
		const char *title, *want;
	} cases[] = {
	    {"Trip to Lisbon", "Trip to Lisbon.md"},
	    {"trip to lisbon", "trip to lisbon 2.md"},
	    {"TRIP TO LISBON", "TRIP TO LISBON 3.md"},
	    {"a/b\\c:d*e?f\"g<h>i|j#k^l[m]n", "a-b-c-d-e-f-g-h-i-j-k-l-m-n.md"},
	    {"..hidden", "hidden.md"},
	    {"ends with dots... ", "ends with dots.md"},
	    {"...", "Untitled.md"},
	    {"", "Untitled 2.md"},
	    {"CON", "CON-.md"},
	    {"com7", "com7-.md"},
	    {"tab\there", "tab-here.md"},
	    {"Straße", "Straße.md"},
	    {"STRASSE", "STRASSE 2.md"}, /* the same file where case is folded */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = name(&used, cases[i].title);
		cr_expect_str_eq(got, cases[i].want, "title \"%s\"", cases[i].title);
		free(got);
	}
	/* 300 bytes of two-byte characters: cut at 200 bytes, on a character. */
	char title[301];
	for (int i = 0; i < 150; i++)
		memcpy(title + 2 * i, "é", 2);
	title[300] = '\0';
	char *got = name(&used, title);
	cr_expect_eq(strlen(got), 200 + 3);
	cr_expect(strcmp(got + 200, ".md") == 0 && memcmp(got, title, 200) == 0);
	free(got);
	export_names_free(&used);
}

struct unzipped {
	int files;
	char names[4][64];
	char titles[4][64];
};

static enum verr read_back(void *ctx, const char *path, const char *data, size_t n,
                           struct verror *err)
{
	struct unzipped *u = ctx;
	struct obsidian_doc d;
	(void)err;
	obsidian_parse(data, n, &d);
	cr_assert_eq(d.warning[0], '\0', "%s: %s", path, d.warning);
	cr_assert_lt(u->files, 4);
	snprintf(u->names[u->files], 64, "%s", path);
	snprintf(u->titles[u->files], 64, "%s", d.title);
	u->files++;
	obsidian_doc_free(&d);
	return VERR_OK;
}

Test(export, zip_reads_back_and_keeps_its_cap)
{
	struct note notes[] = {
	    {.title = "One", .content = "first", .created_at = 1000, .updated_at = 2000},
	    {.title = "one", .content = "second", .created_at = 1000, .updated_at = 2000},
	    {.title = "Two: b", .content = "third", .created_at = 1000, .updated_at = 2000},
	};
	struct export_zip *z = export_zip_new(1 << 20);
	struct verror err = {0};
	for (int i = 0; i < 3; i++)
		cr_assert_eq(export_zip_add(z, &notes[i], &err), VERR_OK, "%s", err.detail);
	char *data;
	size_t n;
	cr_assert_eq(export_zip_finish(z, &data, &n, &err), VERR_OK, "%s", err.detail);
	struct unzipped u = {0};
	struct unzip_limits lim = {.files = 10, .bytes = 1 << 20, .file_size = 1 << 20};
	cr_assert_eq(unzip_each(data, n, &lim, read_back, &u, &err), VERR_OK, "%s", err.detail);
	cr_assert_eq(u.files, 3);
	const char *names[] = {"One.md", "one 2.md", "Two- b.md"};
	const char *titles[] = {"One", "one", "Two: b"};
	for (int i = 0; i < 3; i++) {
		cr_expect_str_eq(u.names[i], names[i]);
		cr_expect_str_eq(u.titles[i], titles[i]);
	}
	free(data);

	/* A cap smaller than the notes: refused, with nothing handed out. */
	z = export_zip_new(200);
	enum verr rc = VERR_OK;
	for (int i = 0; i < 3 && rc == VERR_OK; i++)
		rc = export_zip_add(z, &notes[i], &err);
	if (rc == VERR_OK)
		rc = export_zip_finish(z, &data, &n, &err);
	else
		cr_assert_eq(export_zip_finish(z, &data, &n, &err), VERR_TOO_LARGE);
	cr_expect_eq(rc, VERR_TOO_LARGE);
	cr_expect(strstr(err.detail, "the export is over"), "%s", err.detail);
}

Test(export, many_equal_titles_number_on)
{
	struct export_names used = {0};
	char want[32];
	for (int i = 1; i <= 5000; i++) {
		char *got = export_file_name(&used, "");
		snprintf(want, sizeof(want), i == 1 ? "Untitled.md" : "Untitled %d.md", i);
		cr_assert_str_eq(got, want);
		free(got);
	}
	/* A title that is itself a numbered name is skipped over. */
	const char *titles[] = {"a", "a 2", "A", "a 2"};
	const char *names[] = {"a.md", "a 2.md", "A 3.md", "a 2 2.md"};
	for (int i = 0; i < 4; i++) {
		char *got = export_file_name(&used, titles[i]);
		cr_expect_str_eq(got, names[i]);
		free(got);
	}
	export_names_free(&used);
}

Test(export, aliases_read_back)
{
	char *aliases[] = {"Other name", "yes"}; /* "yes" would read back as a boolean unquoted */
	struct note n = {.title = "T", .content = "c\n", .aliases = aliases, .naliases = 2};
	char *md = export_markdown(&n);
	struct obsidian_doc d;
	obsidian_parse(md, strlen(md), &d);
	cr_assert_eq(d.naliases, 2, "%s", md);
	cr_expect_str_eq(d.aliases[0], "Other name");
	cr_expect_str_eq(d.aliases[1], "yes");
	obsidian_doc_free(&d);
	free(md);
}

/* An imported note goes back where it came from, when that is safe and free. */
Test(export, imported_notes_keep_their_paths)
{
	struct export_names used = {0};
	static const struct {
		const char *source, *title, *want;
	} cases[] = {
	    {"sub/Deep note.md", "Deep", "sub/Deep note.md"},
	    {"notes.txt", "notes", "notes.md"}, /* now with front matter: Markdown */
	    {"Manuals/Boiler.PDF", "Boiler", "Manuals/Boiler.md"}, /* a PDF's text, as Markdown */
	    {"v1.2/README", "Readme", "v1.2/README.md"},           /* no extension: one added */
	    {"Page.Md", "Page", "Page.Md"},
	    {"SUB/deep NOTE.md", "Again", "Again.md"}, /* taken, ignoring case */
	    {"../escape.md", "Escape", "Escape.md"},   /* never outside the folder */
	    {"a/./b.md", "Dot", "Dot.md"},
	    {".obsidian/x.md", "Hidden", "Hidden.md"}, /* a dot-folder an import skips */
	    {"/etc/passwd.md", "Absolute", "Absolute.md"},
	    {"a//b.md", "Empty part", "Empty part.md"},
	    {"a:b.md", "Colon", "Colon.md"}, /* not on every file system */
	    {NULL, "Not imported", "Not imported.md"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct note n = {.title = (char *)cases[i].title,
		                 .source_path = (char *)cases[i].source};
		char *got = export_note_path(&used, &n);
		cr_expect_str_eq(got, cases[i].want, "source %s", cases[i].source);
		free(got);
	}
	export_names_free(&used);
}
