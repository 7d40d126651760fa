/*
 * test_rag.c - the citation check applied to model output, in one piece or
 * split anywhere.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "core/mem.h"
#include "core/text.h"
#include "services/rag.h"

struct sink {
	char buf[512];
	size_t len;
};

static int collect(void *ctx, const char *text, size_t len)
{
	struct sink *s = ctx;
	cr_assert_lt(s->len + len, sizeof(s->buf));
	memcpy(s->buf + s->len, text, len);
	s->len += len;
	s->buf[s->len] = '\0';
	return 0;
}

/* Runs text through a filter with nsources sources, fed in pieces of step bytes. */
static void filter(const char *text, int nsources, size_t step, struct sink *out, bool *cited)
{
	struct cite_filter f;
	memset(out, 0, sizeof(*out));
	cite_filter_init(&f, nsources, cited, collect, out);
	for (size_t i = 0; i < strlen(text); i += step) {
		size_t n = strlen(text) - i < step ? strlen(text) - i : step;
		cite_filter_feed(&f, text + i, n);
	}
	cite_filter_flush(&f);
}

static void expect(const char *in, int nsources, const char *want)
{
	for (size_t step = 1; step <= strlen(in) + 1; step++) {
		struct sink s;
		bool cited[32] = {0};
		filter(in, nsources, step, &s, cited);
		cr_assert_str_eq(s.buf, want, "input \"%s\" in pieces of %zu", in, step);
	}
}

Test(cite_filter, keeps_valid_and_drops_invalid_markers)
{
	expect("Bake at 250 C [1]. Rest it [3].", 2, "Bake at 250 C [1]. Rest it .");
	expect("Both [1, 2] and [2][1].", 2, "Both [1, 2] and [2][1].");
	expect("Mixed [1, 7] here.", 2, "Mixed [1] here.");
}

Test(cite_filter, huge_numbers_do_not_wrap_into_valid_ones)
{
	/* 4294967297 wraps to 1 in 32 bits. */
	expect("Claim [4294967297].", 2, "Claim .");
	expect("Claim [99999999999999999999].", 2, "Claim .");
}

Test(cite_filter, brackets_that_are_not_citations_pass_through)
{
	expect("Use arr[0] and x[12].", 2, "Use arr[0] and x[12].");
	expect("- [ ] a task", 2, "- [ ] a task");
	expect("See [the docs] and [a1].", 2, "See [the docs] and [a1].");
	expect("An open [ bracket", 2, "An open [ bracket");
}

Test(cite_filter, records_what_is_cited)
{
	struct sink s;
	bool cited[4] = {0};
	filter("x [2] y [3] z [9]", 3, 4, &s, cited);
	cr_assert_not(cited[1]);
	cr_assert(cited[2]);
	cr_assert(cited[3]);
}

/* A sink that checks every piece it is given is whole UTF-8, as an SSE event must be. */
static int collect_whole(void *ctx, const char *text, size_t len)
{
	cr_assert(text_utf8_valid(text, len), "piece \"%.*s\" is not whole UTF-8", (int)len, text);
	return collect(ctx, text, len);
}

static void expect_whole(const char *in, int nsources, const char *want)
{
	for (size_t step = 1; step <= strlen(in) + 1; step++) {
		struct sink s = {0};
		bool cited[32] = {0};
		struct cite_filter f;
		cite_filter_init(&f, nsources, cited, collect_whole, &s);
		for (size_t i = 0; i < strlen(in); i += step) {
			size_t n = strlen(in) - i < step ? strlen(in) - i : step;
			cite_filter_feed(&f, in + i, n);
		}
		cite_filter_flush(&f);
		cr_assert_str_eq(s.buf, want, "input \"%s\" in pieces of %zu", in, step);
	}
}

Test(cite_filter, never_emits_part_of_a_character)
{
	/* After a held "[", the next character went out one byte at a time. */
	expect_whole("Das ist [über] alles [1].", 2, "Das ist [über] alles [1].");
	expect_whole("[é [日本] [😀 [2]", 2, "[é [日本] [😀 [2]");
	/* Pieces that split a character themselves are joined before they go out. */
	expect_whole("Grüße 日本語 😀 done", 2, "Grüße 日本語 😀 done");
}

Test(cite_filter, a_long_marker_cannot_overflow)
{
	/* Rewriting "1," as "1, " grew the marker past its buffer. */
	expect("See [1,1,1,1,1,1,1,1,1,1,1,1,1,1,1].", 2, "See [1].");
	expect("See [1,2,1,2,1,2,1,2,1,2,1,2,1,2,1].", 3, "See [1, 2].");
	expect("See [1 2 3 4 5 6 7 8 9 1 2 3 4].", 9, "See [1, 2, 3, 4, 5, 6, 7, 8, 9].");
}
