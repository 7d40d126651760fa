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
	obsidian_parse(text, strlen(text), &d);
	cr_assert_eq(d.warning[0], '\0', "%s", d.warning);
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

Test(obsidian, bad_front_matter_is_kept_and_named)
{
	/* YAML that is not, or not a mapping: the front matter stays in the text. */
	struct {
		const char *text, *want;
	} fatal[] = {
	    {"---\ntitle: ok\ntags: [a, b\n---\nbody #t\n", "front matter line"},
	    {"---\n- just\n- a list\n---\nbody #t\n", "must be keys with values"},
	};
	for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++) {
		struct obsidian_doc d;
		obsidian_parse(fatal[i].text, strlen(fatal[i].text), &d);
		cr_expect(strstr(d.warning, fatal[i].want) && strstr(d.warning, "kept as text"),
		          "case %zu: \"%s\"", i, d.warning);
		cr_expect_eq(d.body, 0, "case %zu", i);
		cr_expect_null(d.title, "case %zu", i);
		cr_expect(d.ntags == 1 && strcmp(d.tags[0], "t") == 0, "case %zu: the body's tag",
		          i);
		obsidian_doc_free(&d);
	}
	/* A value of the wrong kind is left out; the rest of the front matter counts. */
	struct {
		const char *text, *want;
	} soft[] = {
	    {"---\ntitle: [a, b]\ntags: [x]\n---\n", "line 2: title is not text"},
	    {"---\ncreated: last tuesday\ntags: [x]\n---\n", "line 2: created is not a date"},
	    {"---\ncreated: 2024-02-30\ntags: [x]\n---\n", "created is not a date"},
	    {"---\ntags: {a: b}\nTags: [x]\n---\n", "tags is not a list or text"},
	    {"---\ntags: *anchor\nTags: [x]\n---\n", "tags is not a list or text"},
	    {"---\ntags:\n  - [nested]\n  - x\n---\n",
	     "line 3: tags holds an item that is not text"},
	};
	for (size_t i = 0; i < sizeof(soft) / sizeof(soft[0]); i++) {
		struct obsidian_doc d;
		obsidian_parse(soft[i].text, strlen(soft[i].text), &d);
		cr_expect(strstr(d.warning, soft[i].want) && strstr(d.warning, "left out"),
		          "case %zu: \"%s\"", i, d.warning);
		cr_expect_gt(d.body, 0, "case %zu", i);
		cr_expect(d.ntags == 1 && strcmp(d.tags[0], "x") == 0, "case %zu", i);
		obsidian_doc_free(&d);
	}
	/* Before 1970 is a date; a second document after the first is body. */
	struct obsidian_doc d = parse_ok("---\ndate: 1969-07-20\n---\nb: 2\n---\n");
	cr_expect_eq(d.created_ms, INT64_C(-14256000000));
	obsidian_doc_free(&d);
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
	obsidian_parse(b.p, b.len, &d);
	cr_expect(strstr(d.warning, "longer than 64 KiB"), "%s", d.warning);
	cr_expect_eq(d.body, 0);
	obsidian_doc_free(&d);
	buf_free(&b);
	/* Deep flow nesting, whose cost in libyaml grows as its square. */
	buf_init(&b, BUF_NOCAP);
	buf_adds(&b, "---\nx: ");
	for (int i = 0; i < 40000; i++)
		buf_adds(&b, "[");
	buf_adds(&b, "\n---\nbody\n");
	obsidian_parse(b.p, b.len, &d);
	cr_expect(strstr(d.warning, "nested deeper than 32"), "%s", d.warning);
	obsidian_doc_free(&d);
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
	struct obsidian_doc d =
	    parse_ok("See [[Note]], [[Folder/Other.md|the other one]], "
	             "[[Plan#Week 2|plan]] and [[Log^abc123]].\n"
	             "Inline ![[Diagram]] and ![[photo.png|300]].\n"
	             "[[#Local heading]] links within the note.\n"
	             "`[[in code]]`\n\n| a |\n|---|\n| [[Table note\\|shown]] |\n");
	cr_assert_eq(d.nlinks, 7);
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
	    {"Table note", NULL, NULL, "shown", false},
	};
	for (size_t i = 0; i < 7; i++) {
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
