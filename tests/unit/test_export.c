/*
 * test_export.c - notes as Markdown files: the front matter reads back
 * (through services/obsidian.c) as the same title, tags and times whatever
 * they hold, the content follows unchanged; file names are safe on every
 * common file system and unique ignoring case.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "services/export.h"
#include "services/obsidian.h"

static void round_trip(const char *title, const char *const *tags, size_t ntags,
                       const char *content)
{
	struct note n = {.title = (char *)title,
	                 .content = (char *)content,
	                 .tags = (char **)tags,
	                 .ntags = ntags,
	                 .created_at = INT64_C(1709631000123),
	                 .updated_at = INT64_C(1733500000999)};
	char *md = export_markdown(&n);
	struct obsidian_doc d;
	struct verror err = {0};
	cr_assert_eq(obsidian_parse(md, strlen(md), &d, &err), VERR_OK, "%s\n%s", err.detail, md);
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
