/*
 * render.c - a note's Markdown as HTML, on md4c's parser (see render.h).
 *
 * The HTML is written here rather than by md4c-html for two things it
 * cannot do: check every link and image URL against the schemes a page may
 * follow, and stop when the output grows past its bound (a table row pads
 * itself to the header's width, so 600 KB of "|" lines under a 127-column
 * header were 384 MB of HTML). The markup is md4c-html's.
 */
#include "services/render.h"

#include <stdbool.h>
#include <string.h>

#include "core/buf.h"
#include "core/mem.h"
#include "services/markdown.h"

/* Output bound: this many times the input, plus the slack. */
#define OUTPUT_FACTOR 8
#define OUTPUT_SLACK  (64 * 1024)

struct html {
	struct buf out;
	int image;         /* depth inside images: text goes to alt, markup is dropped */
	bool image_shown;  /* the outermost image got an <img> (its URL is safe) */
	bool link_dropped; /* the link being read has an unsafe URL: its text only */
};

/* ------------------------------------------------------------ escaping */

/* Text for an element's content or a quoted attribute. */
static enum verr escaped(struct html *h, const char *s, size_t n)
{
	size_t from = 0;
	enum verr rc = VERR_OK;
	for (size_t i = 0; i < n && !rc; i++) {
		const char *e = s[i] == '&'   ? "&amp;"
		                : s[i] == '<' ? "&lt;"
		                : s[i] == '>' ? "&gt;"
		                : s[i] == '"' ? "&quot;"
		                              : NULL;
		if (!e)
			continue;
		if (!(rc = buf_add(&h->out, s + from, i - from)))
			rc = buf_adds(&h->out, e);
		from = i + 1;
	}
	return rc ? rc : buf_add(&h->out, s + from, n - from);
}

/* A URL in an attribute: bytes outside a safe set percent-encoded, "&" as "&amp;". */
static enum verr url_escaped(struct html *h, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	enum verr rc = VERR_OK;
	for (size_t i = 0; i < n && !rc; i++) {
		unsigned char c = (unsigned char)s[i];
		bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		            (c >= '0' && c <= '9') || (c && strchr("-_.+!*(),%#@?=;:/$~'", c));
		if (keep)
			rc = buf_add(&h->out, s + i, 1);
		else if (c == '&')
			rc = buf_adds(&h->out, "&amp;");
		else
			rc = buf_add(&h->out, (char[]){'%', hex[c >> 4], hex[c & 15]}, 3);
	}
	return rc;
}

/* An attribute md4c parsed: its text escaped by fn, entities kept as written. */
static enum verr attribute(struct html *h, const MD_ATTRIBUTE *a,
                           enum verr (*fn)(struct html *, const char *, size_t))
{
	enum verr rc = VERR_OK;
	for (int i = 0; a->substr_offsets[i] < a->size && !rc; i++) {
		const char *s = a->text + a->substr_offsets[i];
		size_t n = a->substr_offsets[i + 1] - a->substr_offsets[i];
		switch (a->substr_types[i]) {
		case MD_TEXT_NULLCHAR:
			rc = buf_adds(&h->out, "\xEF\xBF\xBD");
			break;
		case MD_TEXT_ENTITY: /* &name; &#123; as md4c checked them: inert in an attribute */
			rc = buf_add(&h->out, s, n);
			break;
		default:
			rc = fn(h, s, n);
			break;
		}
	}
	return rc;
}

/*
 * Whether a URL may be followed from the page: http, https, mailto (not for
 * images) or relative. The scheme is read as a browser reads it, past
 * leading controls and spaces and with tabs and line breaks ignored; one
 * spelt with an entity (jav&#97;script:) is refused outright.
 */
static bool safe_url(const MD_ATTRIBUTE *a, bool image)
{
	char scheme[16];
	size_t n = 0;
	bool started = false;
	for (int i = 0; a->substr_offsets[i] < a->size; i++) {
		const char *s = a->text + a->substr_offsets[i];
		size_t len = a->substr_offsets[i + 1] - a->substr_offsets[i];
		if (a->substr_types[i] != MD_TEXT_NORMAL)
			return false;
		for (size_t k = 0; k < len; k++) {
			unsigned char c = (unsigned char)s[k];
			if (c == '\t' || c == '\n' || c == '\r' || (!started && c <= ' '))
				continue;
			started = true;
			if (c == '/' || c == '?' || c == '#')
				return true; /* a path before any scheme: relative */
			if (c == ':') {
				if (n >= sizeof(scheme))
					return false; /* a scheme longer than any allowed */
				scheme[n] = '\0';
				return (n == 4 && strcmp(scheme, "http") == 0) ||
				       (n == 5 && strcmp(scheme, "https") == 0) ||
				       (!image && n == 6 && strcmp(scheme, "mailto") == 0);
			}
			bool ok =
			    (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (n > 0 && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'));
			if (!ok)
				return true; /* cannot be a scheme: the URL is relative */
			/* A browser takes a scheme of any length: only the first bytes are kept. */
			if (n + 1 < sizeof(scheme))
				scheme[n] = (char)(c | 0x20);
			n++;
		}
	}
	return true;
}

/* ------------------------------------------------------------ callbacks */

static int enter_block(MD_BLOCKTYPE type, void *detail, void *userdata)
{
	static const char *const heads[] = {"<h1>", "<h2>", "<h3>", "<h4>", "<h5>", "<h6>"};
	struct html *h = userdata;
	struct buf *o = &h->out;
	enum verr rc = VERR_OK;
	switch (type) {
	case MD_BLOCK_DOC:
		break;
	case MD_BLOCK_QUOTE:
		rc = buf_adds(o, "<blockquote>\n");
		break;
	case MD_BLOCK_UL:
		rc = buf_adds(o, "<ul>\n");
		break;
	case MD_BLOCK_OL: {
		unsigned start = ((MD_BLOCK_OL_DETAIL *)detail)->start;
		rc = start == 1 ? buf_adds(o, "<ol>\n")
		                : buf_printf(o, "<ol start=\"%u\">\n", start);
		break;
	}
	case MD_BLOCK_LI: {
		MD_BLOCK_LI_DETAIL *d = detail;
		if (!d->is_task)
			rc = buf_adds(o, "<li>");
		else
			rc = buf_printf(o,
			                "<li class=\"task-list-item\"><input type=\"checkbox\" "
			                "class=\"task-list-item-checkbox\" disabled%s>",
			                d->task_mark == ' ' ? "" : " checked");
		break;
	}
	case MD_BLOCK_HR:
		rc = buf_adds(o, "<hr>\n");
		break;
	case MD_BLOCK_H:
		rc = buf_adds(o, heads[((MD_BLOCK_H_DETAIL *)detail)->level - 1]);
		break;
	case MD_BLOCK_CODE: {
		MD_BLOCK_CODE_DETAIL *d = detail;
		rc = buf_adds(o, "<pre><code");
		if (!rc && d->lang.text && d->lang.size &&
		    !(rc = buf_adds(o, " class=\"language-")) &&
		    !(rc = attribute(h, &d->lang, escaped)))
			rc = buf_adds(o, "\"");
		if (!rc)
			rc = buf_adds(o, ">");
		break;
	}
	case MD_BLOCK_HTML: /* raw HTML is off: md4c does not send it */
		break;
	case MD_BLOCK_P:
		rc = buf_adds(o, "<p>");
		break;
	case MD_BLOCK_TABLE:
		rc = buf_adds(o, "<table>\n");
		break;
	case MD_BLOCK_THEAD:
		rc = buf_adds(o, "<thead>\n");
		break;
	case MD_BLOCK_TBODY:
		rc = buf_adds(o, "<tbody>\n");
		break;
	case MD_BLOCK_TR:
		rc = buf_adds(o, "<tr>\n");
		break;
	case MD_BLOCK_TH:
	case MD_BLOCK_TD: {
		static const char *const align[] = {"", " align=\"left\"", " align=\"center\"",
		                                    " align=\"right\""};
		MD_ALIGN a = ((MD_BLOCK_TD_DETAIL *)detail)->align;
		rc = buf_printf(o, "<%s%s>", type == MD_BLOCK_TH ? "th" : "td",
		                align[a <= MD_ALIGN_RIGHT ? a : 0]);
		break;
	}
	}
	return rc != VERR_OK ? -1 : 0;
}

static int leave_block(MD_BLOCKTYPE type, void *detail, void *userdata)
{
	static const char *const heads[] = {"</h1>\n", "</h2>\n", "</h3>\n",
	                                    "</h4>\n", "</h5>\n", "</h6>\n"};
	struct html *h = userdata;
	const char *s = NULL;
	switch (type) {
	case MD_BLOCK_QUOTE:
		s = "</blockquote>\n";
		break;
	case MD_BLOCK_UL:
		s = "</ul>\n";
		break;
	case MD_BLOCK_OL:
		s = "</ol>\n";
		break;
	case MD_BLOCK_LI:
		s = "</li>\n";
		break;
	case MD_BLOCK_H:
		s = heads[((MD_BLOCK_H_DETAIL *)detail)->level - 1];
		break;
	case MD_BLOCK_CODE:
		s = "</code></pre>\n";
		break;
	case MD_BLOCK_P:
		s = "</p>\n";
		break;
	case MD_BLOCK_TABLE:
		s = "</table>\n";
		break;
	case MD_BLOCK_THEAD:
		s = "</thead>\n";
		break;
	case MD_BLOCK_TBODY:
		s = "</tbody>\n";
		break;
	case MD_BLOCK_TR:
		s = "</tr>\n";
		break;
	case MD_BLOCK_TH:
		s = "</th>\n";
		break;
	case MD_BLOCK_TD:
		s = "</td>\n";
		break;
	default: /* DOC, HR, HTML */
		break;
	}
	return s && buf_adds(&h->out, s) != VERR_OK ? -1 : 0;
}

static int enter_span(MD_SPANTYPE type, void *detail, void *userdata)
{
	struct html *h = userdata;
	struct buf *o = &h->out;
	enum verr rc = VERR_OK;
	if (h->image) { /* inside an image only its alt text counts */
		h->image += type == MD_SPAN_IMG;
		return 0;
	}
	switch (type) {
	case MD_SPAN_EM:
		rc = buf_adds(o, "<em>");
		break;
	case MD_SPAN_STRONG:
		rc = buf_adds(o, "<strong>");
		break;
	case MD_SPAN_CODE:
		rc = buf_adds(o, "<code>");
		break;
	case MD_SPAN_DEL:
		rc = buf_adds(o, "<del>");
		break;
	case MD_SPAN_A: {
		MD_SPAN_A_DETAIL *d = detail;
		h->link_dropped = !safe_url(&d->href, false);
		if (h->link_dropped)
			break;
		if (!(rc = buf_adds(o, "<a href=\"")) &&
		    !(rc = attribute(h, &d->href, url_escaped)) && d->title.text && d->title.size &&
		    !(rc = buf_adds(o, "\" title=\"")))
			rc = attribute(h, &d->title, escaped);
		if (!rc)
			rc = buf_adds(o, "\">");
		break;
	}
	case MD_SPAN_IMG: {
		MD_SPAN_IMG_DETAIL *d = detail;
		h->image = 1;
		h->image_shown = safe_url(&d->src, true);
		if (h->image_shown && !(rc = buf_adds(o, "<img src=\"")) &&
		    !(rc = attribute(h, &d->src, url_escaped)))
			rc = buf_adds(o, "\" alt=\"");
		break;
	}
	default: /* LATEXMATH, WIKILINK, U: not enabled */
		break;
	}
	return rc != VERR_OK ? -1 : 0;
}

static int leave_span(MD_SPANTYPE type, void *detail, void *userdata)
{
	struct html *h = userdata;
	struct buf *o = &h->out;
	enum verr rc = VERR_OK;
	if (h->image) {
		if (type == MD_SPAN_IMG && --h->image == 0 && h->image_shown) {
			MD_SPAN_IMG_DETAIL *d = detail;
			if (d->title.text && d->title.size && !(rc = buf_adds(o, "\" title=\"")))
				rc = attribute(h, &d->title, escaped);
			if (!rc)
				rc = buf_adds(o, "\">");
		}
		return rc != VERR_OK ? -1 : 0;
	}
	switch (type) {
	case MD_SPAN_EM:
		rc = buf_adds(o, "</em>");
		break;
	case MD_SPAN_STRONG:
		rc = buf_adds(o, "</strong>");
		break;
	case MD_SPAN_CODE:
		rc = buf_adds(o, "</code>");
		break;
	case MD_SPAN_DEL:
		rc = buf_adds(o, "</del>");
		break;
	case MD_SPAN_A:
		if (!h->link_dropped)
			rc = buf_adds(o, "</a>");
		h->link_dropped = false;
		break;
	default:
		break;
	}
	return rc != VERR_OK ? -1 : 0;
}

static int text(MD_TEXTTYPE type, const MD_CHAR *s, MD_SIZE n, void *userdata)
{
	struct html *h = userdata;
	enum verr rc;
	switch (type) {
	case MD_TEXT_NULLCHAR:
		rc = buf_adds(&h->out, "\xEF\xBF\xBD");
		break;
	case MD_TEXT_BR:
		rc = buf_adds(&h->out, h->image ? " " : "<br>\n");
		break;
	case MD_TEXT_SOFTBR:
		rc = buf_adds(&h->out, h->image ? " " : "\n");
		break;
	case MD_TEXT_ENTITY: /* as md4c checked it: &name; &#123; &#x1F600; */
		rc = buf_add(&h->out, s, n);
		break;
	default: /* NORMAL, CODE; HTML cannot come with raw HTML off */
		rc = escaped(h, s, n);
		break;
	}
	return rc != VERR_OK ? -1 : 0;
}

/* ------------------------------------------------------------ render */

char *render_markdown_html(const char *markdown)
{
	size_t n = strlen(markdown);
	const MD_PARSER parser = {
	    .flags = MARKDOWN_DIALECT | MD_FLAG_NOHTML,
	    .enter_block = enter_block,
	    .leave_block = leave_block,
	    .enter_span = enter_span,
	    .leave_span = leave_span,
	    .text = text,
	};
	struct html h = {0};
	buf_init(&h.out, OUTPUT_FACTOR * n + OUTPUT_SLACK);
	if (markdown_parse(markdown, n, &parser, &h, NULL) != 0) {
		/* Past the bound, or md4c gave up: the note as text, which is linear. */
		buf_reset(&h.out);
		buf_adds(&h.out, "<pre class=\"plain\">");
		escaped(&h, markdown, n);
		buf_adds(&h.out, "</pre>\n");
	}
	return buf_steal(&h.out);
}
