/*
 * markdown.c - md4c behind bounds (see markdown.h).
 *
 * md4c 0.4.8 spends, per pair of brackets, work up to the size of the
 * block that holds them: it finds a bracket's line by walking the block's
 * lines from the first, copies a label that spans lines, and hashes every
 * label when the note defines references. A block of b bytes holding k
 * brackets so costs up to k * b. Blocks are not known before parsing, but
 * each lies within a "stretch": lines between blank lines, also cut before
 * a line that opens a bullet item ("- x" indented less than four spaces),
 * which CommonMark never lets a paragraph continue across. So the sum over
 * stretches of brackets * bytes bounds md4c's bracket work, whatever the
 * brackets turn out to be (some hide in code spans; counting them all only
 * overestimates).
 *
 * The budget is measured (tests/unit/test_markdown.c has the inputs): the
 * worst bracket shape costs about 2.5 ns a unit when references exist and
 * 0.2 ns without, so the budgets below keep it under about 0.1 s. Stretches
 * past the budget, in text order, get their brackets escaped: they show as
 * typed and cost nothing more. Real notes stay far below it (a table of a
 * thousand links is about 2e8).
 */
#include "services/markdown.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

#define BUDGET_REFS  (UINT64_C(1) << 25) /* when the note may define references */
#define BUDGET_PLAIN (UINT64_C(1) << 29)

struct stretch {
	size_t beg, end;
};

/* Whether the line at s[0..n) opens a bullet item with text: "- x", "* x", "+ x". */
static bool opens_item(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n && i < 4 && s[i] == ' ')
		i++;
	if (i > 3 || i + 2 >= n || !strchr("-*+", s[i]) || (s[i + 1] != ' ' && s[i + 1] != '\t'))
		return false;
	for (i += 2; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return true;
	return false;
}

/*
 * Whether the line at s[0..n), its '\n' included, is blank as md4c sees
 * it: spaces and tabs only ("\f" or "\v" would end a stretch for us and
 * not md4c's paragraph, and so escape the budget).
 */
static bool blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return false;
	return true;
}

/*
 * The stretches whose brackets must be escaped to keep md4c within budget,
 * in order, into *out (caller frees); returns their count.
 */
static size_t over_budget(const char *text, size_t n, struct stretch **out)
{
	uint64_t budget = memmem(text, n, "]:", 2) ? BUDGET_REFS : BUDGET_PLAIN, spent = 0;
	struct stretch *v = NULL;
	size_t nv = 0, cap = 0;
	size_t beg = 0, brackets = 0;
	bool open = false; /* a stretch is being read */
	for (size_t i = 0; i <= n;) {
		const char *nl = i < n ? memchr(text + i, '\n', n - i) : NULL;
		size_t end = nl ? (size_t)(nl - text) + 1 : n; /* this line is [i, end) */
		bool is_blank = i == n || blank(text + i, end - i);
		bool cut = is_blank || opens_item(text + i, end - i);
		if (open && cut) {
			uint64_t cost = (uint64_t)brackets * (i - beg);
			if (spent + cost > budget) {
				if (nv == cap) {
					cap = cap ? 2 * cap : 8;
					v = xrealloc(v, cap * sizeof(*v));
				}
				v[nv++] = (struct stretch){beg, i};
			} else {
				spent += cost;
			}
			open = false;
		}
		if (!is_blank && !open) {
			open = true;
			beg = i;
			brackets = 0;
		}
		for (size_t k = i; k < end; k++)
			brackets += text[k] == '[' || text[k] == ']';
		if (i == n)
			break;
		i = end;
	}
	*out = v;
	return nv;
}

/* A copy of text with a backslash before every bracket of the stretches that is not escaped yet. */
static char *escape(const char *text, size_t n, const struct stretch *v, size_t nv, size_t *len)
{
	char *t = xmalloc(2 * n + 1);
	size_t o = 0, k = 0;
	bool escaped = false; /* the byte before is a backslash that escapes */
	for (size_t i = 0; i < n; i++) {
		while (k < nv && i >= v[k].end)
			k++;
		char c = text[i];
		if (!escaped && (c == '[' || c == ']') && k < nv && i >= v[k].beg)
			t[o++] = '\\';
		t[o++] = c;
		escaped = c == '\\' && !escaped;
	}
	t[o] = '\0';
	*len = o;
	return t;
}

int markdown_parse(const char *text, size_t n, const MD_PARSER *parser, void *userdata, bool *tamed)
{
	struct stretch *v;
	size_t nv = over_budget(text, n, &v);
	char *copy = NULL;
	if (nv)
		text = copy = escape(text, n, v, nv, &n);
	free(v);
	if (tamed)
		*tamed = nv > 0;
	int rc = n > UINT32_MAX / 2 ? -1 : md_parse(text, (MD_SIZE)n, parser, userdata);
	free(copy);
	return rc;
}
