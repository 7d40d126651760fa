/*
 * test_chunker.c - cutting notes along their Markdown: headings open chunks
 * and form trails, the size bound holds, long sections overlap, lists,
 * code and tables keep their shape, UTF-8 is never cut, an empty note is
 * its title, and the embedder's input has its documented form.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/text.h"
#include "services/chunker.h"

static size_t cps(const char *s)
{
	return text_utf8_len(s, strlen(s));
}

/* Every chunk is valid UTF-8 within the bound, with a heading. */
static void check_chunks(const struct chunk *c, size_t n)
{
	cr_assert_geq(n, 1);
	for (size_t i = 0; i < n; i++) {
		cr_assert_not_null(c[i].text);
		cr_assert_not_null(c[i].heading);
		cr_assert(text_utf8_valid(c[i].text, strlen(c[i].text)), "chunk %zu not UTF-8", i);
		cr_assert(text_utf8_valid(c[i].heading, strlen(c[i].heading)));
		cr_assert_leq(cps(c[i].text), CHUNK_MAX_CHARS, "chunk %zu has %zu code points", i,
		              cps(c[i].text));
		cr_assert_gt(strlen(c[i].text), 0, "chunk %zu is empty", i);
	}
}

/* Text of n sentences "Sentence <i> tells about <topic> and more words." */
static char *sentences(const char *topic, int from, int n)
{
	size_t cap = (size_t)n * 128 + 1;
	char *s = malloc(cap);
	size_t len = 0;
	s[0] = '\0';
	for (int i = from; i < from + n; i++)
		len += (size_t)snprintf(s + len, cap - len,
		                        "%sSentence %d tells about %s and more words.",
		                        i > from ? " " : "", i, topic);
	return s;
}

/* Bytes of the longest end of a that b starts with (shorter than both). */
static size_t overlap_bytes(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (!la || !lb)
		return 0;
	for (size_t k = la < lb ? la - 1 : lb - 1; k > 0; k--)
		if (memcmp(a + la - k, b, k) == 0)
			return k;
	return 0;
}

/* The same in code points. */
static size_t overlap_len(const char *a, const char *b)
{
	return text_utf8_len(b, overlap_bytes(a, b));
}

Test(chunker, headings_open_chunks_and_form_trails)
{
	const char *md = "Intro before any heading.\n\n"
	                 "# Setup\n\nSetup text.\n\n"
	                 "## Install\n\nInstall text.\n\n"
	                 "### Linux\n\nLinux text.\n\n"
	                 "## Configure\n\nConfigure text.\n\n"
	                 "# Usage\n\nUsage text.\n";
	struct chunk *c;
	size_t n = chunker_split("Guide", md, &c);
	check_chunks(c, n);
	cr_assert_eq(n, 6);
	const char *want[][2] = {
	    {"", "Intro before any heading."},        {"Setup", "Setup text."},
	    {"Setup > Install", "Install text."},     {"Setup > Install > Linux", "Linux text."},
	    {"Setup > Configure", "Configure text."}, {"Usage", "Usage text."},
	};
	for (size_t i = 0; i < n; i++) {
		cr_assert_str_eq(c[i].heading, want[i][0], "chunk %zu", i);
		cr_assert_str_eq(c[i].text, want[i][1], "chunk %zu", i);
	}
	chunks_free(c, n);
}

Test(chunker, heading_without_body_keeps_its_words)
{
	const char *md = "# Todo\n## Buy milk\n## Call mom\n# Done\nAll good.\n";
	struct chunk *c;
	size_t n = chunker_split("List", md, &c);
	check_chunks(c, n);
	cr_assert_eq(n, 3);
	cr_assert_str_eq(c[0].heading, "Todo > Buy milk");
	cr_assert_str_eq(c[0].text, "Buy milk");
	cr_assert_str_eq(c[1].heading, "Todo > Call mom");
	cr_assert_str_eq(c[2].heading, "Done");
	cr_assert_str_eq(c[2].text, "All good.");
	chunks_free(c, n);
}

Test(chunker, short_blocks_of_a_section_share_a_chunk)
{
	const char *md = "# S\n\nFirst paragraph.\n\nSecond *emphasised* paragraph,\nsoft break.\n";
	struct chunk *c;
	size_t n = chunker_split("T", md, &c);
	check_chunks(c, n);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(c[0].text, "First paragraph.\n\nSecond emphasised paragraph, soft break.");
	chunks_free(c, n);
}

Test(chunker, lists_code_quotes_and_tables_keep_their_shape)
{
	const char *md = "- item one\n"
	                 "- item two\n"
	                 "  - nested item\n"
	                 "- [x] done task\n"
	                 "- [ ] open task\n"
	                 "\n"
	                 "3. third\n"
	                 "4. fourth\n"
	                 "\n"
	                 "```c\n"
	                 "int main(void)\n"
	                 "{\n"
	                 "    return 0;\n"
	                 "}\n"
	                 "```\n"
	                 "\n"
	                 "> quoted words\n"
	                 "\n"
	                 "| name | qty |\n"
	                 "|------|-----|\n"
	                 "| flour | 500 |\n"
	                 "\n"
	                 "Tom &amp; Jerry &#233;t&eacute; <b>bold</b> `x < y`\n";
	struct chunk *c;
	size_t n = chunker_split("Shapes", md, &c);
	check_chunks(c, n);
	cr_assert_eq(n, 1);
	const char *want = "- item one\n"
	                   "- item two\n"
	                   "  - nested item\n"
	                   "- [x] done task\n"
	                   "- [ ] open task\n"
	                   "\n"
	                   "3. third\n"
	                   "4. fourth\n"
	                   "\n"
	                   "int main(void)\n"
	                   "{\n"
	                   "    return 0;\n"
	                   "}\n"
	                   "\n"
	                   "> quoted words\n"
	                   "\n"
	                   "name | qty\n"
	                   "flour | 500\n"
	                   "\n"
	                   "Tom & Jerry \xC3\xA9t&eacute; bold x < y";
	cr_assert_str_eq(c[0].text, want);
	chunks_free(c, n);
}

Test(chunker, long_note_respects_the_bound_and_loses_no_sentence)
{
	/* Paragraphs of 3-9 sentences, then one paragraph far above the bound. */
	size_t cap = 200000, len = 0;
	char *md = malloc(cap);
	len += (size_t)snprintf(md + len, cap - len, "# Bread\n\n");
	int next = 0;
	for (int p = 0; p < 12; p++) {
		int k = 3 + p % 7;
		char *s = sentences("bread", next, k);
		len += (size_t)snprintf(md + len, cap - len, "%s\n\n", s);
		free(s);
		next += k;
	}
	char *giant = sentences("one giant block", next, 80);
	len += (size_t)snprintf(md + len, cap - len, "%s\n", giant);
	free(giant);
	next += 80;

	struct chunk *c;
	size_t n = chunker_split("Baking", md, &c);
	check_chunks(c, n);
	cr_assert_geq(n, 6, "%zu chunks", n);
	for (int i = 0; i < next; i++) {
		char needle[64];
		snprintf(needle, sizeof(needle), "Sentence %d tells", i);
		bool found = false;
		for (size_t k = 0; k < n && !found; k++)
			found = strstr(c[k].text, needle) != NULL;
		cr_assert(found, "sentence %d lost", i);
	}
	/* The giant block is cut at sentence ends. */
	for (size_t k = 0; k + 1 < n; k++) {
		size_t l = strlen(c[k].text);
		cr_assert_eq(c[k].text[l - 1], '.', "chunk %zu ends mid-sentence: ...%s", k,
		             c[k].text + (l > 40 ? l - 40 : 0));
	}
	chunks_free(c, n);
	free(md);
}

Test(chunker, consecutive_chunks_of_a_section_overlap)
{
	char *body = sentences("overlap", 0, 120);
	char *md = malloc(strlen(body) + 64);
	sprintf(md, "# One\n\n%s\n\n# Two\n\nShort.\n", body);
	struct chunk *c;
	size_t n = chunker_split("T", md, &c);
	check_chunks(c, n);
	cr_assert_geq(n, 4);
	size_t same = 0;
	for (size_t i = 0; i + 1 < n; i++) {
		if (strcmp(c[i].heading, c[i + 1].heading) != 0) {
			/* A new section starts clean. */
			cr_assert_eq(overlap_len(c[i].text, c[i + 1].text), 0);
			continue;
		}
		same++;
		size_t ov = overlap_len(c[i].text, c[i + 1].text);
		cr_assert_geq(ov, CHUNK_OVERLAP_CHARS / 2, "chunks %zu/%zu overlap by %zu", i,
		              i + 1, ov);
		cr_assert_leq(ov, CHUNK_OVERLAP_CHARS, "chunks %zu/%zu overlap by %zu", i, i + 1,
		              ov);
		/* It starts at a sentence, after a space in the previous chunk. */
		cr_assert_eq(strncmp(c[i + 1].text, "Sentence ", 9), 0, "overlap starts: %.20s",
		             c[i + 1].text);
		size_t la = strlen(c[i].text);
		cr_assert_eq(c[i].text[la - overlap_bytes(c[i].text, c[i + 1].text) - 1], ' ');
	}
	cr_assert_geq(same, 3);
	cr_assert_str_eq(c[n - 1].heading, "Two");
	cr_assert_str_eq(c[n - 1].text, "Short.");
	chunks_free(c, n);
	free(md);
	free(body);
}

Test(chunker, a_block_that_fits_is_not_split)
{
	/* 150 + 1100 code points: the second block moves whole to its own chunk. */
	char a[151], b[1101];
	memset(a, 'a', 150);
	a[149] = '.';
	a[150] = '\0';
	for (int i = 0; i < 1100; i++)
		b[i] = i % 10 == 9 ? ' ' : 'b';
	b[1099] = '.';
	b[1100] = '\0';
	char *md = malloc(4000);
	sprintf(md, "%s\n\n%s\n", a, b);
	struct chunk *c;
	size_t n = chunker_split("T", md, &c);
	check_chunks(c, n);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(c[0].text, a);
	cr_assert(strstr(c[1].text, b) != NULL, "second block was split");
	chunks_free(c, n);
	free(md);
}

Test(chunker, multibyte_utf8_is_never_split)
{
	/* 2-, 3- and 4-byte characters, with and without spaces, far over the bound. */
	const char *pieces[] = {"é", "東", "😀", "ü"};
	size_t cap = 60000, len = 0;
	char *md = malloc(cap);
	len += (size_t)snprintf(md + len, cap - len, "# Spaced\n\n");
	for (int i = 0; i < 3000; i++)
		len += (size_t)snprintf(md + len, cap - len, "%s%s", pieces[i % 4],
		                        i % 7 == 6 ? " " : "");
	len += (size_t)snprintf(md + len, cap - len, "\n\n# Unspaced\n\n");
	for (int i = 0; i < 5000; i++)
		len += (size_t)snprintf(md + len, cap - len, "%s", pieces[(i * 3) % 4]);
	len += (size_t)snprintf(md + len, cap - len, "\n");
	struct chunk *c;
	size_t n = chunker_split("Wide", md, &c);
	check_chunks(c, n);
	size_t unspaced = 0;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(c[i].heading, "Unspaced") != 0)
			continue;
		/* The bound counts code points, not bytes: full chunks are full. */
		if (unspaced++ == 0)
			cr_assert_eq(cps(c[i].text), CHUNK_MAX_CHARS);
	}
	cr_assert_geq(unspaced, 5);
	chunks_free(c, n);
	free(md);
}

Test(chunker, invalid_utf8_comes_out_valid)
{
	struct chunk *c;
	size_t n = chunker_split("T", "# H\xff\n\nbad \xc3 byte \xe2\x82 here &#xD800; &#0;\n", &c);
	check_chunks(c, n);
	cr_assert(strstr(c[0].text, "bad \xEF\xBF\xBD byte"));
	chunks_free(c, n);
}

Test(chunker, empty_content_is_the_title)
{
	const char *empties[] = {"", "   \n\n\t  \n", "---\n"};
	for (int i = 0; i < 3; i++) {
		struct chunk *c;
		size_t n = chunker_split("My title", empties[i], &c);
		cr_assert_eq(n, 1, "content %d", i);
		cr_assert_str_eq(c[0].text, "My title");
		cr_assert_str_eq(c[0].heading, "");
		chunks_free(c, n);
	}
	chunks_free(NULL, 0);
}

Test(chunker, embed_input_has_title_heading_and_text)
{
	char *s = chunker_embed_input("Title", "Setup > Install", "Body text.");
	cr_assert_str_eq(s, "Title\nSetup > Install\n\nBody text.");
	free(s);
	s = chunker_embed_input("Title", "", "Body text.");
	cr_assert_str_eq(s, "Title\n\nBody text.");
	free(s);
	s = chunker_embed_input("Title", NULL, "Body text.");
	cr_assert_str_eq(s, "Title\n\nBody text.");
	free(s);
}

/* Bytes of every chunk's heading and text. */
static size_t chunk_bytes(const struct chunk *c, size_t n)
{
	size_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += strlen(c[i].heading) + strlen(c[i].text);
	return total;
}

Test(chunker, a_long_heading_is_not_copied_into_every_chunk)
{
	/* A 100 KB heading over 5,000 small sections took about 1 GB. */
	size_t big = 100 * 1024, sections = 5000;
	char *md = malloc(big + sections * 16 + 64);
	size_t len = 0;
	md[len++] = '#';
	md[len++] = ' ';
	for (size_t i = 0; i < big; i++)
		md[len++] = i % 7 == 6 ? ' ' : 'h';
	len += (size_t)sprintf(md + len, " lastword\n\n");
	for (size_t i = 0; i < sections; i++)
		len += (size_t)sprintf(md + len, "## s%zu\n\nx\n\n", i);
	struct chunk *c;
	size_t n = chunker_split("t", md, &c);
	check_chunks(c, n);
	cr_assert_lt(chunk_bytes(c, n), 4 * len, "%zu bytes of chunks from %zu of Markdown",
	             chunk_bytes(c, n), len);
	/* Nothing is lost: the heading's last word is in some chunk's text. */
	bool found = false;
	for (size_t i = 0; i < n && !found; i++)
		found = strstr(c[i].text, "lastword") != NULL;
	cr_assert(found, "the long heading's end is in no chunk");
	chunks_free(c, n);
	free(md);
}

Test(chunker, a_long_heading_is_cut_in_trails_and_kept_as_text)
{
	char head[3000];
	for (size_t i = 0; i < sizeof(head) - 1; i++)
		head[i] = i % 7 == 6 ? ' ' : 'h';
	head[sizeof(head) - 1] = '\0';
	char *md = malloc(sizeof(head) + 128);
	sprintf(md, "# %s lastword\n\n## A\n\nText a.\n\n## B\n\nText b.\n", head);
	struct chunk *c;
	size_t n = chunker_split("t", md, &c);
	check_chunks(c, n);
	cr_assert_geq(n, 3);
	for (size_t i = 0; i < n; i++)
		cr_assert_leq(cps(c[i].heading), 2 * 130, "chunk %zu: a trail of %zu code points",
		              i, cps(c[i].heading));
	bool found = false;
	for (size_t i = 0; i < n && !found; i++)
		found = strstr(c[i].text, "lastword") != NULL;
	cr_assert(found, "the long heading's end is in no chunk");
	cr_assert(strstr(c[n - 1].heading, "> B") != NULL, "last trail: %s", c[n - 1].heading);
	cr_assert_str_eq(c[n - 1].text, "Text b.");
	chunks_free(c, n);
	free(md);
}

Test(chunker, many_tiny_sections_are_bounded)
{
	/* "# a" alone is a chunk with its trail: 1 MiB of them was 250,000 chunks. */
	size_t len = 0, cap = 1 << 20;
	char *md = malloc(cap + 16);
	for (int i = 0; len + 12 < cap; i++)
		len += (size_t)sprintf(md + len, "###### h%d\n", i % 1000);
	struct chunk *c;
	size_t n = chunker_split("t", md, &c);
	check_chunks(c, n);
	cr_assert_leq(n, len / 32 + 64, "%zu chunks from %zu bytes", n, len);
	cr_assert_lt(chunk_bytes(c, n), 3 * len, "%zu bytes of chunks from %zu of Markdown",
	             chunk_bytes(c, n), len);
	chunks_free(c, n);
	free(md);
}

Test(chunker, table_rows_padded_to_the_header_stay_small)
{
	/* Rows of one "|" under a 127-column header: md4c pads each row to the
	 * header's width, which the chunker turned into " | " per empty cell. */
	size_t rows = 100000, len = 0;
	char *md = malloc(127 * 12 + rows * 2 + 16);
	for (int k = 0; k < 127; k++)
		len += (size_t)sprintf(md + len, "|h%d", k);
	len += (size_t)sprintf(md + len, "|\n");
	for (int k = 0; k < 127; k++)
		len += (size_t)sprintf(md + len, "|---");
	len += (size_t)sprintf(md + len, "|\n");
	for (size_t i = 0; i < rows; i++)
		len += (size_t)sprintf(md + len, "|\n");
	struct chunk *c;
	size_t n = chunker_split("t", md, &c);
	check_chunks(c, n);
	cr_assert_lt(chunk_bytes(c, n), 4 * len, "%zu bytes of chunks from %zu of Markdown",
	             chunk_bytes(c, n), len);
	chunks_free(c, n);
	free(md);
}
