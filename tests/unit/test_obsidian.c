/*
 * test_obsidian.c - what an Obsidian file says about itself: front matter
 * (title, tags as a list or a string, aliases, dates with and without a
 * time and zone; bad YAML and wrong kinds of value named with their line),
 * inline tags (not in code, not digits only, nested kept), wikilinks with
 * heading, block and alias, embeds, and the first heading as the title.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "core/buf.h"
#include "services/obsidian.h"

static struct obsidian_doc parse_ok(const char *text)
{
	struct obsidian_doc d;
	struct verror err = {0};
	enum verr rc = obsidian_parse(text, strlen(text), &d, &err);
	cr_assert_eq(rc, VERR_OK, "%s", err.detail);
	return d;
}

static void expect_tags(const struct obsidian_doc *d, const char *const *want, size_t n)
{
	cr_assert_eq(d->ntags, n, "%zu tags, want %zu", d->ntags, n);
	for (size_t i = 0; i < n; i++)
		cr_expect_str_eq(d->tags[i], want[i]);
}

Test(obsidian, front_matter_fields)
{
	struct obsidian_doc d = parse_ok("---\n"
	                                 "title: Trip to Lisbon\n"
	                                 "tags: [travel, \"#portugal\"]\n"
	                                 "aliases:\n  - Lisbon 2024\n  - LIS\n"
	                                 "created: 2024-03-05\n"
	                                 "updated: 2024-03-06T09:30:15.250+01:00\n"
	                                 "cssclasses: {wide: true, list: [a, b]}\n"
	                                 "---\n"
	                                 "# Heading that is not the title\n\nBody #food\n");
	cr_expect_str_eq(d.title, "Trip to Lisbon");
	expect_tags(&d, (const char *const[]){"travel", "#portugal", "food"}, 3);
	cr_assert_eq(d.naliases, 2);
	cr_expect_str_eq(d.aliases[0], "Lisbon 2024");
	cr_expect_str_eq(d.aliases[1], "LIS");
	cr_expect_eq(d.created_ms, INT64_C(1709596800000)); /* 2024-03-05T00:00:00Z */
	cr_expect_eq(d.updated_ms, INT64_C(1709713815250)); /* 08:30:15.250Z */
	const char *text = "---\ntitle: x\n---\nrest";
	struct obsidian_doc e = parse_ok(text);
	cr_expect_str_eq(text + e.body, "rest");
	obsidian_doc_free(&e);
	obsidian_doc_free(&d);
}

Test(obsidian, tags_as_text_and_duplicates)
{
	struct obsidian_doc d =
	    parse_ok("---\ntags: \"work, #Ideas 2024\"\ntag: WORK\n---\n#ideas\n");
	expect_tags(&d, (const char *const[]){"work", "Ideas", "2024"}, 3);
	obsidian_doc_free(&d);
	d = parse_ok("---\ntags:\ntitle: ~\n---\ntext\n");
	cr_expect_eq(d.ntags, 0);
	cr_expect_null(d.title);
	obsidian_doc_free(&d);
}

Test(obsidian, no_front_matter_without_its_closing_line)
{
	const char *text = "---\ntitle: not front matter\n\nA note that starts with a rule.\n";
	struct obsidian_doc d = parse_ok(text);
	cr_expect_eq(d.body, 0);
	cr_expect_null(d.title);
	obsidian_doc_free(&d);
	/* A byte-order mark and CRLF line ends are still front matter. */
	d = parse_ok("\xEF\xBB\xBF---\r\ntitle: Windows\r\n...\r\nbody");
	cr_expect_str_eq(d.title, "Windows");
	obsidian_doc_free(&d);
}

Test(obsidian, bad_front_matter_names_the_line)
{
	struct {
		const char *text, *want;
	} cases[] = {
	    {"---\ntitle: ok\ntags: [a, b\n---\n", "front matter line"},
	    {"---\ntitle: [a, b]\n---\n", "line 2: title must be text"},
	    {"---\ncreated: last tuesday\n---\n", "line 2: created must be a date"},
	    {"---\ncreated: 2024-02-30\n---\n", "created must be a date"},
	    {"---\ntags: {a: b}\n---\n", "tags must be a list or text"},
	    {"---\ntags:\n  - [nested]\n---\n", "line 3: each of tags must be text"},
	    {"---\n- just\n- a list\n---\n", "must be keys with values"},
	    {"---\na: 1\n---\nb: 2\n---\n", NULL}, /* the second block is body */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct obsidian_doc d;
		struct verror err = {0};
		enum verr rc = obsidian_parse(cases[i].text, strlen(cases[i].text), &d, &err);
		if (!cases[i].want) {
			cr_expect_eq(rc, VERR_OK, "case %zu: %s", i, err.detail);
			obsidian_doc_free(&d);
			continue;
		}
		cr_expect_eq(rc, VERR_INVALID, "case %zu", i);
		cr_expect(strstr(err.detail, cases[i].want), "case %zu: \"%s\"", i, err.detail);
		cr_expect_eq(d.ntags + d.nlinks, 0);
	}
}

Test(obsidian, front_matter_size_is_bounded)
{
	struct buf b;
	buf_init(&b, BUF_NOCAP);
	buf_adds(&b, "---\n");
	while (b.len < OBSIDIAN_FRONT_MAX + 10)
		buf_adds(&b, "# a comment line in the front matter\n");
	buf_adds(&b, "---\nbody\n");
	struct obsidian_doc d;
	struct verror err = {0};
	cr_expect_eq(obsidian_parse(b.p, b.len, &d, &err), VERR_INVALID);
	cr_expect(strstr(err.detail, "longer than 64 KiB"), "%s", err.detail);
	buf_free(&b);
}

Test(obsidian, inline_tags_follow_obsidian)
{
	struct obsidian_doc d =
	    parse_ok("#start of a line, mid#word, #1984 and #y1984, #a/b/c/ and #café.\n\n"
	             "`#code` and\n\n```\n#fenced\n```\n\n    #indented\n\n"
	             "- item #list-tag\n\n| h |\n|---|\n| #cell |\n\n"
	             "# Not a tag heading\n\n[#link-text](http://x/#frag) **#bold**\n");
	expect_tags(&d,
	            (const char *const[]){"start", "y1984", "a/b/c", "café", "list-tag", "cell",
	                                  "link-text", "bold"},
	            8);
	obsidian_doc_free(&d);
}

Test(obsidian, wikilinks_and_embeds)
{
	struct obsidian_doc d = parse_ok("See [[Note]], [[Folder/Other.md|the other one]], "
	                                 "[[Plan#Week 2|plan]] and [[Log^abc123]].\n"
	                                 "Inline ![[Diagram]] and ![[photo.png|300]].\n"
	                                 "[[#Local heading]] links within the note.\n"
	                                 "`[[in code]]`\n");
	cr_assert_eq(d.nlinks, 6);
	const struct {
		const char *target, *heading, *block, *alias;
		bool embed;
	} want[] = {
	    {"Note", NULL, NULL, NULL, false},
	    {"Folder/Other", NULL, NULL, "the other one", false},
	    {"Plan", "Week 2", NULL, "plan", false},
	    {"Log", NULL, "abc123", NULL, false},
	    {"Diagram", NULL, NULL, NULL, true},
	    {"photo.png", NULL, NULL, "300", true},
	};
	for (size_t i = 0; i < 6; i++) {
		const struct obsidian_link *l = &d.links[i];
		cr_expect_str_eq(l->target, want[i].target, "link %zu", i);
		cr_expect_eq(l->embed, want[i].embed, "link %zu", i);
		const char *got[] = {l->heading, l->block, l->alias};
		const char *exp[] = {want[i].heading, want[i].block, want[i].alias};
		for (int k = 0; k < 3; k++) {
			if (exp[k])
				cr_expect(got[k] && strcmp(got[k], exp[k]) == 0, "link %zu part %d",
				          i, k);
			else
				cr_expect_null(got[k], "link %zu part %d", i, k);
		}
	}
	obsidian_doc_free(&d);
}

Test(obsidian, title_from_first_heading)
{
	struct obsidian_doc d = parse_ok("Intro line\n\n## Second level\n\n# The *real* title\n\n"
	                                 "# Another\n");
	cr_expect_str_eq(d.title, "The real title");
	obsidian_doc_free(&d);
	d = parse_ok("no heading here\n");
	cr_expect_null(d.title);
	obsidian_doc_free(&d);
}

Test(obsidian, collections_are_capped)
{
	struct buf b;
	buf_init(&b, BUF_NOCAP);
	for (int i = 0; i < OBSIDIAN_TAGS_MAX + 50; i++)
		buf_printf(&b, "#t%d ", i);
	buf_adds(&b, "\n\n");
	for (int i = 0; i < OBSIDIAN_LINKS_MAX + 5; i++)
		buf_adds(&b, "[[x]]\n\n"); /* a paragraph each: within the bracket budget */
	struct obsidian_doc d = parse_ok(b.p);
	cr_expect_eq(d.ntags, OBSIDIAN_TAGS_MAX);
	cr_expect(d.tags_over);
	cr_expect_eq(d.nlinks, OBSIDIAN_LINKS_MAX, "%zu links", d.nlinks);
	cr_expect(d.links_over);
	obsidian_doc_free(&d);
	buf_free(&b);
}
