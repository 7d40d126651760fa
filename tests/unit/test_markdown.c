/*
 * test_markdown.c - Markdown behind bounds: the bracket budget escapes the
 * shapes that make md4c 0.4.8 quadratic and leaves real notes alone; the
 * renderer writes md4c-html's markup, keeps only safe URLs, and turns a
 * note whose HTML would explode into text.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <md4c-html.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/text.h"
#include "services/markdown.h"
#include "services/render.h"

/* text repeated until it fills at least size bytes, after head. */
static char *repeat(const char *head, const char *text, size_t size)
{
	struct buf b;
	buf_init(&b, BUF_NOCAP);
	buf_adds(&b, head);
	while (b.len < size)
		buf_adds(&b, text);
	return buf_steal(&b);
}

static int nop_block(MD_BLOCKTYPE t, void *d, void *u)
{
	(void)t, (void)d, (void)u;
	return 0;
}

static int nop_span(MD_SPANTYPE t, void *d, void *u)
{
	(void)t, (void)d, (void)u;
	return 0;
}

static int nop_text(MD_TEXTTYPE t, const MD_CHAR *s, MD_SIZE n, void *u)
{
	(void)t, (void)s, (void)n, (void)u;
	return 0;
}

/* Whether markdown_parse() escaped brackets in text. */
static bool tamed(const char *text)
{
	const MD_PARSER parser = {.flags = MARKDOWN_DIALECT,
	                          .enter_block = nop_block,
	                          .leave_block = nop_block,
	                          .enter_span = nop_span,
	                          .leave_span = nop_span,
	                          .text = nop_text};
	bool t = false;
	cr_assert_eq(markdown_parse(text, strlen(text), &parser, NULL, &t), 0);
	return t;
}

Test(markdown, quadratic_bracket_shapes_are_escaped)
{
	/* Each took md4c 0.4.8 seconds: 1 MiB of "]([\n" 18 s, 40 KB of nested
	 * brackets with a reference defined 4 s. */
	const char *shapes[][2] = {
	    {"", "]([\n"},
	    {"", "[x]\n"},
	    {"[a]: /b\n\n", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"},
	    {"", "[\n"},
	    /* Lines md4c does not count as blank must not end a stretch either. */
	    {"[x]: /b\n\n", "[x]\n\f\n"},
	    {"[x]: /b\n\n", "[x]\n\v\n"},
	};
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		char *md = repeat(shapes[i][0], shapes[i][1], 200 * 1024);
		cr_assert(tamed(md), "shape %zu (%s) was parsed as is", i, shapes[i][1]);
		free(md);
	}
}

Test(markdown, real_notes_are_parsed_as_written)
{
	/* A reading list of 2,000 links, one an item; a paragraph with links. */
	char *list =
	    repeat("# Reading\n\n", "- [A good article](https://example.com/a/b?c=d) by someone\n",
	           120 * 1024);
	cr_assert_not(tamed(list));
	free(list);
	char *para =
	    repeat("", "Some words [with a link](/x) and more words around it. ", 60 * 1024);
	cr_assert_not(tamed(para));
	free(para);
	/* A table of a thousand linked rows. */
	char *table = repeat("| name | link |\n|---|---|\n",
	                     "| row | [site](https://example.com) |\n", 40 * 1024);
	cr_assert_not(tamed(table));
	free(table);
	/* Fifteen thousand short paragraphs of a link each: blank lines end stretches. */
	char *paras = repeat("", "[a link](/x)\n\n", 200 * 1024);
	cr_assert_not(tamed(paras));
	free(paras);
}

Test(markdown, escaping_keeps_the_text)
{
	/* Escaped brackets show as typed, and escapes already there stay escapes. */
	char *md = repeat("\\[kept\\] and ", "]([\n", 200 * 1024);
	char *html = render_markdown_html(md);
	cr_assert(strncmp(html, "<p>[kept] and ]([\n", 18) == 0, "%.60s", html);
	free(html);
	free(md);
}

/* ------------------------------------------------------------ renderer */

static void collect(const MD_CHAR *s, MD_SIZE n, void *u)
{
	buf_add(u, s, n);
}

/* md4c-html's markup for md, entities kept as written (as the renderer keeps them). */
static char *md4c_html(const char *md)
{
	struct buf b;
	buf_init(&b, BUF_NOCAP);
	cr_assert_eq(md_html(md, (MD_SIZE)strlen(md), collect, &b,
	                     MARKDOWN_DIALECT | MD_FLAG_NOHTML, MD_HTML_FLAG_VERBATIM_ENTITIES),
	             0);
	return buf_steal(&b);
}

Test(render, markup_is_md4c_html_s)
{
	const char *cases[] = {
	    "# Title\n\nSome *em* and **strong** and `code` and ~~gone~~.\n",
	    "- a\n- [ ] task\n- [x] done\n\n3. three\n4. four\n",
	    "> quote\n> more\n\n---\n\n```c\nint x = 1 < 2;\n```\n",
	    "| a | b | c |\n|:--|:-:|--:|\n| 1 | 2 |\n",
	    "[link](https://example.com/a?b=c&d=e \"Title\") ![alt *text*](/img.png \"t\")\n",
	    "line one  \nline two\\\nthree &amp; &copy; &#233; \"quoted\" <b>raw</b>\n",
	    "www.example.com and https://example.org/x and a@b.co\n",
	    "[ref] and [other][ref]\n\n[ref]: /path/to \"T\"\n",
	    "Nul\0byte",
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *want = md4c_html(cases[i]);
		char *got = render_markdown_html(cases[i]);
		cr_assert_str_eq(got, want, "case %zu", i);
		free(want);
		free(got);
	}
}

Test(render, the_eval_notes_render_as_md4c_html_does)
{
	FILE *f = fopen("eval/notes.jsonl", "r");
	cr_assert_not_null(f, "run from the repository root");
	char line[65536];
	int n = 0;
	while (fgets(line, sizeof(line), f)) {
		json_t *j = json_loads(line, 0, NULL);
		cr_assert_not_null(j);
		const char *md = json_string_value(json_object_get(j, "content"));
		char *want = md4c_html(md);
		char *got = render_markdown_html(md);
		cr_assert_str_eq(got, want, "note %d", n);
		free(want);
		free(got);
		json_decref(j);
		n++;
	}
	fclose(f);
	cr_assert_gt(n, 50);
}

Test(render, only_safe_urls_are_links)
{
	const char *unsafe[] = {
	    "[a](javascript:alert(1))",
	    "[a](JavaScript:alert(1))",
	    "[a](jAvAsCrIpT:alert(1))",
	    "[a](<java\tscript:alert(1)>)",
	    "[a]( javascript:alert(1))",
	    "[a](&#106;avascript:alert(1))",
	    "[a](javascript&#58;alert(1))",
	    "[a](vbscript:msgbox)",
	    "[a](data:text/html;base64,PHNjcmlwdD4=)",
	    "[a](file:///etc/passwd)",
	    "<javascript:alert(1)>",
	    "[a][r]\n\n[r]: javascript:alert(1)",
	    /* Schemes longer than any allowed one are schemes all the same (fuzz/render.c). */
	    "[a](ms-windows-store:home)",
	    "<a777777777777777777777777777777:8888>",
	};
	for (size_t i = 0; i < sizeof(unsafe) / sizeof(unsafe[0]); i++) {
		char *html = render_markdown_html(unsafe[i]);
		cr_assert(!strstr(html, "<a "), "case %zu: %s", i, html);
		cr_assert(strstr(html, "a") != NULL, "case %zu lost its text: %s", i, html);
		free(html);
	}
	char *img = render_markdown_html("![pic](data:image/png;base64,AAAA) ![x](javascript:1)");
	cr_assert(!strstr(img, "<img"), "%s", img);
	cr_assert(strstr(img, "pic") && strstr(img, "x"), "the alt texts stay: %s", img);
	free(img);

	const char *safe[][2] = {
	    {"[a](http://e.com)", "href=\"http://e.com\""},
	    {"[a](HTTPS://e.com/x)", "href=\"HTTPS://e.com/x\""},
	    {"[a](mailto:me@e.com)", "href=\"mailto:me@e.com\""},
	    {"[a](/notes/2)", "href=\"/notes/2\""},
	    {"[a](../up?q=1#frag)", "href=\"../up?q=1#frag\""},
	    {"[a](#top)", "href=\"#top\""},
	    {"[a](page:2)", NULL}, /* a scheme not on the list */
	    {"![p](https://e.com/p.png)", "<img src=\"https://e.com/p.png\" alt=\"p\">"},
	};
	for (size_t i = 0; i < sizeof(safe) / sizeof(safe[0]); i++) {
		char *html = render_markdown_html(safe[i][0]);
		if (safe[i][1])
			cr_assert(strstr(html, safe[i][1]) != NULL, "%s gave %s", safe[i][0], html);
		else
			cr_assert(!strstr(html, "<a "), "%s gave %s", safe[i][0], html);
		free(html);
	}
}

Test(render, output_stays_within_its_bound)
{
	/* 600 KB of "|" rows under a 127-column header were 384 MB of HTML; a
	 * 5 KB reference used 5,000 times, 16 MB from 20 KB. */
	struct buf b;
	buf_init(&b, BUF_NOCAP);
	for (int k = 0; k < 127; k++)
		buf_printf(&b, "|h%d", k);
	buf_adds(&b, "|\n");
	for (int k = 0; k < 127; k++)
		buf_adds(&b, "|---");
	buf_adds(&b, "|\n");
	char *table = buf_steal(&b);
	char *md = repeat(table, "|\n", 600 * 1024);
	char *html = render_markdown_html(md);
	cr_assert_leq(strlen(html), 8 * strlen(md) + 64 * 1024, "%zu bytes", strlen(html));
	cr_assert(strncmp(html, "<pre class=\"plain\">", 19) == 0, "%.40s", html);
	cr_assert(text_utf8_valid(html, strlen(html)));
	free(html);
	free(md);
	free(table);

	char *def = repeat("[x]: <", "u", 5000);
	char *refs = repeat(def, ">\n\n", strlen(def) + 3);
	free(def);
	md = repeat(refs, "[x] ", strlen(refs) + 5000 * 4);
	html = render_markdown_html(md);
	cr_assert_leq(strlen(html), 8 * strlen(md) + 64 * 1024, "%zu bytes", strlen(html));
	free(html);
	free(md);
	free(refs);
}

Test(render, raw_html_is_text)
{
	char *html =
	    render_markdown_html("<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>");
	cr_assert(!strstr(html, "<script") && !strstr(html, "<img"), "%s", html);
	cr_assert(strstr(html, "&lt;script&gt;") != NULL, "%s", html);
	free(html);
}
