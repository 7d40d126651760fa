/*
 * render.c - fuzz target: a note's Markdown as HTML (services/render.c, on
 * md4c behind services/markdown.c's bounds).
 *
 * Input: the note, made valid UTF-8 first as every note is (a bad byte or a
 * NUL becomes U+FFFD). Properties: the HTML is valid UTF-8 and within the
 * documented bound (8 times the note, plus 64 KiB); it is made only of the
 * renderer's own elements and attributes, with text and attribute values
 * escaped (so no raw "<script", no event handler); every href and src holds
 * only URL-safe bytes and is relative or http(s), or mailto for a link. The
 * time bound is libFuzzer's -timeout (scripts/fuzz).
 */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "core/text.h"
#include "fuzz.h"
#include "services/render.h"

#define OUTPUT_FACTOR 8
#define OUTPUT_SLACK  (64 * 1024)

static bool in_list(const char *s, size_t n, const char *const *list)
{
	for (; *list; list++)
		if (strlen(*list) == n && memcmp(*list, s, n) == 0)
			return true;
	return false;
}

static bool scheme_char(char c, bool first)
{
	return ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
	       (!first && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'));
}

/*
 * Whether a URL from an href or src may be followed, read as a browser reads
 * it: only bytes the renderer leaves unencoded (an entity as md4c found it
 * among them), so no space or control can hide a scheme; a scheme, if the
 * text before the first ":" is one, among the allowed. An entity (other
 * than &amp;) may decode to anything, so the text before it must already
 * have settled the question.
 */
static bool url_ok(const char *v, size_t n, bool image)
{
	for (size_t i = 0; i < n; i++)
		if (!strchr("-_.+!*(),%#@?=;:/$~'&", v[i]) && !scheme_char(v[i], false))
			return false;
	for (size_t k = 0; k < n; k++) {
		if (v[k] == ':')
			return (k == 4 && strncasecmp(v, "http", 4) == 0) ||
			       (k == 5 && strncasecmp(v, "https", 5) == 0) ||
			       (!image && k == 6 && strncasecmp(v, "mailto", 6) == 0);
		if (v[k] == '&')
			return n - k >= 5 && memcmp(v + k, "&amp;", 5) == 0;
		if (!scheme_char(v[k], k == 0))
			return true; /* "a/b:c", "%6A:": a path, not a scheme */
	}
	return true;
}

/* Checks the markup of html[0..n); aborts on the first thing out of place. */
static void check_markup(const char *html, size_t n)
{
	static const char *const elements[] = {
	    "p",  "h1",    "h2",    "h3",    "h4",   "h5", "h6",     "blockquote", "ul", "ol",
	    "li", "input", "hr",    "pre",   "code", "em", "strong", "del",        "a",  "img",
	    "br", "table", "thead", "tbody", "tr",   "th", "td",     NULL};
	static const char *const attributes[] = {"class",   "start", "type", "disabled",
	                                         "checked", "align", "href", "title",
	                                         "src",     "alt",   NULL};
	for (size_t i = 0; i < n; i++) {
		CHECK(html[i] != '>', "a bare '>' at %zu", i);
		if (html[i] != '<')
			continue;
		size_t at = i++;
		if (i < n && html[i] == '/')
			i++;
		size_t name = i;
		while (i < n &&
		       ((html[i] >= 'a' && html[i] <= 'z') || (html[i] >= '0' && html[i] <= '9')))
			i++;
		CHECK(in_list(html + name, i - name, elements), "element \"%.*s\" at %zu",
		      (int)(i - name < 32 ? i - name : 32), html + name, at);
		bool image = i - name == 3 && memcmp(html + name, "img", 3) == 0;
		for (;;) {
			CHECK(i < n, "a tag at %zu does not end", at);
			if (html[i] == '>')
				break;
			CHECK(html[i] == ' ', "'%c' in the tag at %zu", html[i], at);
			size_t attr = ++i;
			while (i < n && ((html[i] >= 'a' && html[i] <= 'z') || html[i] == '-'))
				i++;
			size_t alen = i - attr;
			CHECK(in_list(html + attr, alen, attributes), "attribute \"%.*s\" at %zu",
			      (int)(alen < 32 ? alen : 32), html + attr, at);
			if (i < n && html[i] == '=') {
				CHECK(i + 1 < n && html[i + 1] == '"', "an unquoted value at %zu",
				      at);
				const char *v = html + i + 2;
				const char *end = memchr(v, '"', n - (i + 2));
				CHECK(end, "a value at %zu does not end", at);
				size_t vlen = (size_t)(end - v);
				CHECK(!memchr(v, '<', vlen) && !memchr(v, '>', vlen),
				      "a raw < or > in a value at %zu", at);
				bool url = (alen == 4 && memcmp(html + attr, "href", 4) == 0) ||
				           (alen == 3 && memcmp(html + attr, "src", 3) == 0);
				CHECK(!url || url_ok(v, vlen, image), "URL \"%.*s\" at %zu",
				      (int)(vlen < 200 ? vlen : 200), v, at);
				i = (size_t)(end - html) + 1;
			}
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n;
	char *note = text_utf8_sanitize_n((const char *)data, size, &n);
	char *html = render_markdown_html(note);
	size_t len = strlen(html);
	CHECK(text_utf8_valid(html, len), "the HTML is not valid UTF-8");
	CHECK(len <= OUTPUT_FACTOR * n + OUTPUT_SLACK, "%zu bytes of HTML from %zu", len, n);
	check_markup(html, len);
	free(html);
	free(note);
	return 0;
}
