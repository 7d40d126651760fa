/*
 * chunker.c - cuts a note into chunks to embed, along its Markdown structure.
 *
 * Two passes. md4c parses the note and the callbacks below turn every block
 * into a "unit" of plain text: a paragraph, a list item ("- item", "1. item",
 * "- [x] task", nested items indented by two spaces a level), a table row
 * ("a | b"), a code or HTML block verbatim; quoted blocks start with "> ".
 * Each heading opens a new section whose trail is the headings above it
 * ("Setup > Install"); the heading itself is not chunk text, the trail is.
 * Then the units of each section are packed into chunks of at most
 * CHUNK_MAX_CHARS code points: whole units while they fit, a unit too big
 * for a chunk of its own cut at a sentence end, else between words, else
 * between code points. A chunk that follows another of its section begins
 * with the end of that one, about CHUNK_OVERLAP_CHARS of whole sentences or
 * words, so text near a cut is whole in at least one chunk.
 *
 * Sizes are code points, never bytes, and every cut falls between code
 * points, so chunks of valid UTF-8 are valid UTF-8; invalid input bytes
 * become U+FFFD first.
 *
 * Work and memory stay linear in the note, whatever its Markdown: md4c runs
 * behind markdown.h's bounds; a trail holds at most TRAIL_LEVEL_CHARS of
 * each heading (a longer heading is also its section's first unit, so no
 * word is lost); empty table cells (md4c pads every row to the header's
 * width) add nothing; a parse that calls back more than WORK_PER_BYTE
 * times a byte, or writes more than its byte budget, is dropped for the
 * plain-text reading of the note; and so are chunks too many or too big
 * for the note (within_bounds()).
 */
#include "services/chunker.h"

#include <md4c.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/mem.h"
#include "core/text.h"
#include "services/markdown.h"

#define LIST_DEPTH_MAX   32 /* deeper lists are tracked as this deep */
#define INDENT_DEPTH_MAX 4  /* nested items indent at most 2 * 3 spaces */
#define QUOTE_DEPTH_MAX  3  /* at most "> > > " */

#define TRAIL_LEVEL_CHARS   120 /* of one heading in a trail */
#define WORK_PER_BYTE       4   /* md4c callbacks a byte of Markdown may cost */
#define BYTES_PER_BYTE      8   /* bytes of units a byte of Markdown may become */
#define WORK_SLACK          4096
#define CHUNK_MIN_BYTES     32 /* of note per chunk, on average at most */
#define CHUNKS_BYTES_FACTOR 3  /* all chunks' bytes: at most this many times the note's */

static const char replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static size_t cps(const char *s, size_t n)
{
	return text_utf8_len(s, n);
}

/* Byte offset of the code point after the first k in s[0..n) (n if fewer). */
static size_t cp_offset(const char *s, size_t n, size_t k)
{
	size_t i = 0;
	while (i < n) {
		if (((unsigned char)s[i] & 0xC0) != 0x80) {
			if (k == 0)
				return i;
			k--;
		}
		i++;
	}
	return n;
}

/* ---------------------------------------------------------------------- */
/* Pass 1: Markdown to units                                                */
/* ---------------------------------------------------------------------- */

enum unit_kind { U_PARA, U_ITEM, U_ROW, U_CODE };

struct unit {
	char *text;
	size_t section;
	enum unit_kind kind;
	unsigned group; /* the list or table it belongs to */
};

struct parse {
	struct buf cur;      /* text of the block being read */
	enum unit_kind kind; /* what cur becomes when flushed */
	bool verbatim;       /* in a code or HTML block: keep spaces and lines */
	int quote_depth;
	int list_depth;
	struct {
		bool ordered;
		unsigned next;
	} lists[LIST_DEPTH_MAX];
	struct buf marker; /* "- ", "2. " waiting for the item's first block */
	bool marker_pending;

	bool in_heading;
	int level;            /* of the heading being read */
	struct buf heading;   /* its text */
	char *levels[6];      /* heading text per level above here, NULL if none */
	int section_level;    /* level of the heading opening this section, 0 before any */
	size_t section_units; /* units so far in this section */
	bool cell_empty;      /* no text yet in the table cell being read */
	size_t cells;         /* cells with text so far in the table row */
	unsigned group;       /* counts top-level lists and tables */

	struct unit *units;
	size_t nunits, capunits;
	char **trails; /* per section: " > "-joined heading trail */
	size_t nsections, capsections;

	size_t work, work_max;   /* md4c callbacks so far, and the most allowed */
	size_t bytes, bytes_max; /* bytes written into units and trails */
	bool over;               /* a bound was passed: the parse is dropped */
};

/* Appends to a buffer of p's, within p's byte budget. */
static void put(struct parse *p, struct buf *b, const char *s, size_t n)
{
	if (n > p->bytes_max - p->bytes || buf_add(b, s, n) != VERR_OK) {
		p->over = true;
		return;
	}
	p->bytes += n;
}

static void puts_(struct parse *p, struct buf *b, const char *s)
{
	put(p, b, s, strlen(s));
}

static void push_unit(struct parse *p, char *text, enum unit_kind kind)
{
	if (p->nunits == p->capunits) {
		p->capunits = p->capunits ? p->capunits * 2 : 16;
		p->units = xrealloc(p->units, p->capunits * sizeof(*p->units));
	}
	p->units[p->nunits++] = (struct unit){text, p->nsections - 1, kind, p->group};
	p->section_units++;
}

static void push_section(struct parse *p, char *trail)
{
	if (p->nsections == p->capsections) {
		p->capsections = p->capsections ? p->capsections * 2 : 8;
		p->trails = xrealloc(p->trails, p->capsections * sizeof(*p->trails));
	}
	p->trails[p->nsections++] = trail;
	p->section_units = 0;
}

/*
 * Prose: runs of white space become one space, or one newline where the
 * run held a hard line break; nothing leading or trailing.
 */
static void collapse(struct parse *p, const char *s, size_t n, struct buf *out)
{
	int pending = 0; /* 0 none, 1 space, 2 newline */
	size_t from = 0; /* start of the run of text not yet written */
	for (size_t i = 0; i < n; i++) {
		if (!is_space(s[i]))
			continue;
		if (i > from) {
			if (pending && out->len)
				puts_(p, out, pending == 2 ? "\n" : " ");
			put(p, out, s + from, i - from);
			pending = 0;
		}
		if (s[i] == '\n')
			pending = 2;
		else if (!pending)
			pending = 1;
		from = i + 1;
	}
	if (n > from) {
		if (pending && out->len)
			puts_(p, out, pending == 2 ? "\n" : " ");
		put(p, out, s + from, n - from);
	}
}

/* Code: as written, less blank lines before and white space after. */
static void keep_verbatim(struct parse *p, const char *s, size_t n, struct buf *out)
{
	size_t start = 0, i = 0;
	while (i < n) { /* skip whole blank lines */
		if (s[i] == '\n')
			start = i + 1;
		else if (!is_space(s[i]))
			break;
		i++;
	}
	if (i == n)
		return;
	while (n > start && is_space(s[n - 1]))
		n--;
	put(p, out, s + start, n - start);
}

/* Ends the block being read: its text, if any, becomes a unit. */
static void flush(struct parse *p)
{
	struct buf body, text;
	buf_init(&body, BUF_NOCAP); /* put() keeps both within p's budget */
	buf_init(&text, BUF_NOCAP);
	if (p->verbatim)
		keep_verbatim(p, p->cur.p ? p->cur.p : "", p->cur.len, &body);
	else
		collapse(p, p->cur.p ? p->cur.p : "", p->cur.len, &body);
	buf_reset(&p->cur);
	enum unit_kind kind = p->kind;
	p->kind = U_PARA;
	if (!body.len) {
		buf_free(&body);
		return;
	}
	int q = p->quote_depth < QUOTE_DEPTH_MAX ? p->quote_depth : QUOTE_DEPTH_MAX;
	for (int i = 0; i < q; i++)
		puts_(p, &text, "> ");
	if (p->marker_pending) {
		put(p, &text, p->marker.p, p->marker.len);
		p->marker_pending = false;
		if (kind != U_CODE)
			kind = U_ITEM;
	}
	put(p, &text, body.p, body.len);
	buf_free(&body);
	push_unit(p, buf_steal(&text), kind);
}

/* The trail of the headings above here: at most TRAIL_LEVEL_CHARS of each. */
static char *make_trail(struct parse *p)
{
	struct buf t;
	buf_init(&t, BUF_NOCAP);
	for (int i = 0; i < 6; i++) {
		const char *h = p->levels[i];
		if (!h || !*h)
			continue;
		if (t.len)
			puts_(p, &t, " > ");
		size_t n = strlen(h), cut = cp_offset(h, n, TRAIL_LEVEL_CHARS);
		put(p, &t, h, cut);
		if (cut < n)
			puts_(p, &t, "\xE2\x80\xA6"); /* … */
	}
	return buf_steal(&t);
}

/*
 * A heading of level next_level (0: the end of the note) closes the current
 * section. One with no text of its own and no subsections ("## Buy milk"
 * followed by "## Call mom") would vanish, so its heading becomes its text.
 */
static void close_section(struct parse *p, int next_level)
{
	if (p->section_level == 0 || p->section_units > 0)
		return;
	if (next_level != 0 && next_level > p->section_level)
		return;
	const char *h = p->levels[p->section_level - 1];
	if (h && *h)
		push_unit(p, xstrdup(h), U_PARA);
}

static void item_marker(struct parse *p, const MD_BLOCK_LI_DETAIL *d)
{
	buf_reset(&p->marker);
	int depth = p->list_depth < INDENT_DEPTH_MAX ? p->list_depth : INDENT_DEPTH_MAX;
	for (int i = 1; i < depth; i++)
		puts_(p, &p->marker, "  ");
	int top = (p->list_depth < LIST_DEPTH_MAX ? p->list_depth : LIST_DEPTH_MAX) - 1;
	if (top >= 0 && p->lists[top].ordered) {
		char num[24];
		snprintf(num, sizeof(num), "%u. ", p->lists[top].next++);
		puts_(p, &p->marker, num);
	} else {
		puts_(p, &p->marker, "- ");
	}
	if (d && d->is_task)
		puts_(p, &p->marker, d->task_mark == ' ' ? "[ ] " : "[x] ");
	p->marker_pending = true;
}

/* Every callback counts against the work budget; past it, or past the byte budget, md4c stops. */
static int spent(struct parse *p)
{
	return p->over || ++p->work > p->work_max ? -1 : 0;
}

static int enter_block(MD_BLOCKTYPE type, void *detail, void *userdata)
{
	struct parse *p = userdata;
	switch (type) {
	case MD_BLOCK_DOC:
	case MD_BLOCK_THEAD:
	case MD_BLOCK_TBODY:
		break;
	case MD_BLOCK_QUOTE:
		flush(p);
		p->quote_depth++;
		break;
	case MD_BLOCK_UL:
	case MD_BLOCK_OL:
		flush(p);
		if (p->list_depth == 0)
			p->group++;
		if (p->list_depth < LIST_DEPTH_MAX) {
			bool ol = type == MD_BLOCK_OL;
			p->lists[p->list_depth].ordered = ol;
			p->lists[p->list_depth].next =
			    ol ? ((MD_BLOCK_OL_DETAIL *)detail)->start : 0;
		}
		p->list_depth++;
		break;
	case MD_BLOCK_LI:
		flush(p);
		item_marker(p, detail);
		break;
	case MD_BLOCK_H:
		flush(p);
		p->level = (int)((MD_BLOCK_H_DETAIL *)detail)->level;
		if (p->level < 1 || p->level > 6)
			p->level = 6;
		close_section(p, p->level);
		p->in_heading = true;
		buf_reset(&p->heading);
		break;
	case MD_BLOCK_CODE:
	case MD_BLOCK_HTML:
		flush(p);
		p->verbatim = true;
		p->kind = U_CODE;
		break;
	case MD_BLOCK_TABLE:
		flush(p);
		p->group++;
		break;
	case MD_BLOCK_TR:
		flush(p);
		p->cells = 0;
		p->kind = U_ROW;
		break;
	case MD_BLOCK_TH:
	case MD_BLOCK_TD:
		p->cell_empty = true; /* " | " comes with the cell's first text */
		break;
	default: /* P, HR */
		flush(p);
		break;
	}
	return spent(p);
}

static int leave_block(MD_BLOCKTYPE type, void *detail, void *userdata)
{
	struct parse *p = userdata;
	(void)detail;
	switch (type) {
	case MD_BLOCK_H: {
		struct buf t;
		buf_init(&t, BUF_NOCAP);
		collapse(p, p->heading.p ? p->heading.p : "", p->heading.len, &t);
		for (int i = p->level - 1; i < 6; i++) {
			free(p->levels[i]);
			p->levels[i] = NULL;
		}
		char *h = buf_steal(&t);
		p->levels[p->level - 1] = h;
		p->in_heading = false;
		push_section(p, make_trail(p));
		p->section_level = p->level;
		/* A heading too long for the trail is its section's first text too. */
		if (text_utf8_len(h, strlen(h)) > TRAIL_LEVEL_CHARS) {
			put(p, &p->cur, h, strlen(h));
			flush(p);
		}
		break;
	}
	case MD_BLOCK_QUOTE:
		flush(p);
		p->quote_depth--;
		break;
	case MD_BLOCK_UL:
	case MD_BLOCK_OL:
		flush(p);
		p->list_depth--;
		break;
	case MD_BLOCK_LI:
		flush(p);
		p->marker_pending = false;
		break;
	case MD_BLOCK_CODE:
	case MD_BLOCK_HTML:
		flush(p);
		p->verbatim = false;
		break;
	case MD_BLOCK_TH:
	case MD_BLOCK_TD:
		p->cell_empty = false;
		break;
	default: /* P, TR, TABLE, ... */
		flush(p);
		break;
	}
	return spent(p);
}

static int enter_span(MD_SPANTYPE type, void *detail, void *userdata)
{
	(void)type, (void)detail;
	return spent(userdata);
}

/* &amp; &#233; &#x1F600;: decoded into out; unknown names stay as written. */
static void add_entity(struct parse *p, struct buf *out, const char *s, size_t n)
{
	static const struct {
		const char *name, *text;
	} named[] = {
	    {"&amp;", "&"},
	    {"&lt;", "<"},
	    {"&gt;", ">"},
	    {"&quot;", "\""},
	    {"&apos;", "'"},
	    {"&nbsp;", " "},
	    {"&ndash;", "\xE2\x80\x93"},
	    {"&mdash;", "\xE2\x80\x94"},
	    {"&hellip;", "\xE2\x80\xA6"},
	    {"&copy;", "\xC2\xA9"},
	};
	if (n >= 4 && s[1] == '#') {
		bool hex = s[2] == 'x' || s[2] == 'X';
		uint32_t cp = 0;
		bool ok = n > (size_t)(hex ? 4 : 3);
		for (size_t i = hex ? 3 : 2; ok && i + 1 < n; i++) {
			char c = s[i];
			unsigned d;
			if (c >= '0' && c <= '9')
				d = (unsigned)(c - '0');
			else if (hex && c >= 'a' && c <= 'f')
				d = (unsigned)(c - 'a' + 10);
			else if (hex && c >= 'A' && c <= 'F')
				d = (unsigned)(c - 'A' + 10);
			else
				ok = false, d = 0;
			cp = cp * (hex ? 16 : 10) + d;
			if (cp > 0x10FFFF)
				ok = false;
		}
		if (!ok || cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF) || cp < 0x20) {
			puts_(p, out, replacement);
			return;
		}
		char u[4];
		put(p, out, u, text_utf8_encode(cp, u));
		return;
	}
	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
		if (strlen(named[i].name) == n && memcmp(named[i].name, s, n) == 0) {
			puts_(p, out, named[i].text);
			return;
		}
	}
	put(p, out, s, n);
}

static int on_text(MD_TEXTTYPE type, const MD_CHAR *text, MD_SIZE size, void *userdata)
{
	struct parse *p = userdata;
	struct buf *b = p->in_heading ? &p->heading : &p->cur;
	if (p->cell_empty) {
		if (p->cells++)
			puts_(p, b, " | ");
		p->cell_empty = false;
	}
	switch (type) {
	case MD_TEXT_NULLCHAR:
		puts_(p, b, replacement);
		break;
	case MD_TEXT_BR:
		puts_(p, b, "\n");
		break;
	case MD_TEXT_SOFTBR:
		puts_(p, b, " ");
		break;
	case MD_TEXT_ENTITY:
		add_entity(p, b, text, size);
		break;
	case MD_TEXT_HTML:
		if (p->verbatim) /* an HTML block; inline tags are dropped */
			put(p, b, text, size);
		break;
	default: /* NORMAL, CODE, LATEXMATH */
		put(p, b, text, size);
		break;
	}
	return spent(p);
}

static void parse_free(struct parse *p)
{
	buf_free(&p->cur);
	buf_free(&p->marker);
	buf_free(&p->heading);
	for (int i = 0; i < 6; i++)
		free(p->levels[i]);
	for (size_t i = 0; i < p->nunits; i++)
		free(p->units[i].text);
	free(p->units);
	for (size_t i = 0; i < p->nsections; i++)
		free(p->trails[i]);
	free(p->trails);
}

/* An empty parse of an n-byte note, with its budgets and the section before any heading. */
static void parse_init(struct parse *p, size_t n)
{
	memset(p, 0, sizeof(*p));
	buf_init(&p->cur, BUF_NOCAP); /* put() keeps every buffer within bytes_max */
	buf_init(&p->marker, BUF_NOCAP);
	buf_init(&p->heading, BUF_NOCAP);
	p->work_max = WORK_PER_BYTE * n + WORK_SLACK;
	p->bytes_max = BYTES_PER_BYTE * n + WORK_SLACK;
	push_section(p, xstrdup(""));
}

/* Fills p with the units of content; false if md4c failed or a bound was passed (p is then
 * empty). */
static bool parse_markdown(const char *content, struct parse *p)
{
	MD_PARSER parser = {
	    .abi_version = 0,
	    .flags = MARKDOWN_DIALECT,
	    .enter_block = enter_block,
	    .leave_block = leave_block,
	    .enter_span = enter_span,
	    .leave_span = enter_span,
	    .text = on_text,
	};
	size_t n = strlen(content);
	parse_init(p, n);
	if (markdown_parse(content, n, &parser, p, NULL) != 0 || p->over) {
		parse_free(p);
		return false;
	}
	flush(p);
	close_section(p, 0);
	return true;
}

/* ---------------------------------------------------------------------- */
/* Pass 2: units to chunks                                                  */
/* ---------------------------------------------------------------------- */

/*
 * Walks the places where text may be cut: every run of white space, and
 * right after a CJK full stop. A place is a sentence end when the run holds
 * a newline or follows . ! ? or U+2026 (with closing quotes or brackets
 * between), or after the CJK stop.
 */
struct cuts {
	const char *s;
	size_t n, i, cps; /* position and code points before it */
	size_t term_end;  /* where the last sentence terminator and closers end */
};

struct cut {
	size_t end, next;         /* text before ends at end; text after starts at next */
	size_t cps_end, cps_next; /* code points before end / before next */
	bool sentence;
};

static bool is_closer(const char *s, size_t n, size_t i, size_t *len)
{
	static const char *const closers[] = {"\"",           "'",       ")", "]", "\xE2\x80\x9D",
	                                      "\xE2\x80\x99", "\xC2\xBB"};
	for (size_t k = 0; k < sizeof(closers) / sizeof(closers[0]); k++) {
		size_t l = strlen(closers[k]);
		if (i + l <= n && memcmp(s + i, closers[k], l) == 0) {
			*len = l;
			return true;
		}
	}
	return false;
}

/* Length of a terminator at s[i]: . ! ? … (kind 1) or 。！？ (kind 2); 0 if none. */
static size_t terminator(const char *s, size_t n, size_t i, int *kind)
{
	if (s[i] == '.' || s[i] == '!' || s[i] == '?') {
		*kind = 1;
		return 1;
	}
	if (i + 3 <= n && memcmp(s + i, "\xE2\x80\xA6", 3) == 0) {
		*kind = 1;
		return 3;
	}
	if (i + 3 <= n &&
	    (memcmp(s + i, "\xE3\x80\x82", 3) == 0 || memcmp(s + i, "\xEF\xBC\x81", 3) == 0 ||
	     memcmp(s + i, "\xEF\xBC\x9F", 3) == 0)) {
		*kind = 2;
		return 3;
	}
	return 0;
}

static void cuts_init(struct cuts *c, const char *s, size_t n)
{
	*c = (struct cuts){s, n, 0, 0, SIZE_MAX};
}

static size_t char_len(unsigned char c)
{
	return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

static bool cuts_next(struct cuts *c, struct cut *out)
{
	const char *s = c->s;
	while (c->i < c->n) {
		size_t i = c->i;
		if (is_space(s[i])) {
			bool nl = false;
			size_t j = i, k = 0;
			while (j < c->n && is_space(s[j])) {
				nl |= s[j] == '\n';
				j++, k++;
			}
			*out = (struct cut){i, j, c->cps, c->cps + k, nl || c->term_end == i};
			c->i = j;
			c->cps += k;
			return true;
		}
		int kind = 0;
		size_t tl = terminator(s, c->n, i, &kind);
		if (tl) {
			size_t j = i + tl, k = 1, cl;
			while (j < c->n && is_closer(s, c->n, j, &cl))
				j += cl, k++;
			c->i = j;
			c->cps += k;
			if (kind == 2 && j < c->n && !is_space(s[j])) {
				*out = (struct cut){j, j, c->cps, c->cps, true};
				return true;
			}
			c->term_end = j;
			continue;
		}
		c->i += char_len((unsigned char)s[i]);
		c->cps++;
	}
	return false;
}

/*
 * Where to cut s[0..n) so the first piece has at most room code points:
 * the last sentence end in the second half of the room, else the last gap
 * between words, else the last sentence end, else after room code points.
 */
static void best_cut(const char *s, size_t n, size_t room, size_t *end, size_t *next, bool *nl)
{
	struct cuts it;
	struct cut c, sent = {0}, word = {0};
	/* Only the first room code points (and the gap after them) can hold the
	 * cut: scanning further made a long unbroken text quadratic. */
	size_t scan = cp_offset(s, n, room + 1);
	while (scan < n && is_space(s[scan]))
		scan++;
	cuts_init(&it, s, scan);
	while (cuts_next(&it, &c) && c.cps_end <= room) {
		if (c.end == 0 || c.next >= n)
			continue;
		if (c.sentence)
			sent = c;
		word = c;
	}
	struct cut pick = sent.end && sent.cps_end >= room / 2 ? sent : word.end ? word : sent;
	if (pick.end) {
		*end = pick.end;
		*next = pick.next;
		*nl = memchr(s + pick.end, '\n', pick.next - pick.end) != NULL;
		return;
	}
	*end = *next = cp_offset(s, n, room);
	*nl = false;
}

/*
 * Where the overlap taken from the end of s[0..n) starts: at most limit code
 * points of whole sentences when that gives at least half of limit, else of
 * whole words, else the last limit code points. n when limit is 0.
 */
static size_t overlap_start(const char *s, size_t n, size_t limit)
{
	if (limit == 0)
		return n;
	size_t total = cps(s, n);
	struct cuts it;
	struct cut c;
	size_t sent = 0, sent_cps = 0, word = 0;
	cuts_init(&it, s, n);
	while (cuts_next(&it, &c)) {
		if (c.next >= n || total - c.cps_next > limit)
			continue;
		if (c.sentence && !sent) {
			sent = c.next;
			sent_cps = total - c.cps_next;
		}
		if (!word)
			word = c.next;
	}
	if (sent && sent_cps >= limit / 2)
		return sent;
	if (word)
		return word;
	if (sent)
		return sent;
	return cp_offset(s, n, total - limit);
}

struct packer {
	struct chunk *v;
	size_t n, cap;
	const char *trail;
	struct buf text; /* the chunk being filled: at most CHUNK_MAX_CHARS, so no cap of its own */
	size_t text_cps;
	bool has_content;        /* text holds more than overlap */
	const struct unit *last; /* the unit text ends with, NULL if none */
};

static void add_text(struct packer *k, const char *sep, const char *s, size_t n)
{
	if (k->text.len && sep) {
		buf_adds(&k->text, sep);
		k->text_cps += strlen(sep);
	}
	buf_add(&k->text, s, n);
	k->text_cps += cps(s, n);
	k->has_content = true;
}

/* Emits the chunk; keeps about overlap code points of its end (≤ half of it) to go on from. */
static void close_chunk(struct packer *k, size_t overlap)
{
	if (k->has_content) {
		if (k->n == k->cap) {
			k->cap = k->cap ? k->cap * 2 : 8;
			k->v = xrealloc(k->v, k->cap * sizeof(*k->v));
		}
		k->v[k->n++] = (struct chunk){xstrdup(k->trail), xstrndup(k->text.p, k->text.len)};
	}
	k->has_content = false;
	if (!k->text.len)
		return;
	size_t limit = overlap < k->text_cps / 2 ? overlap : k->text_cps / 2;
	size_t from = overlap_start(k->text.p, k->text.len, limit);
	memmove(k->text.p, k->text.p + from, k->text.len - from);
	k->text.len -= from;
	k->text.p[k->text.len] = '\0';
	k->text_cps = cps(k->text.p, k->text.len);
}

/* Separator between units: a line within one list or table, else a blank line. */
static const char *separator(const struct unit *prev, const struct unit *next)
{
	if (prev && prev->kind == next->kind && prev->group == next->group &&
	    (next->kind == U_ITEM || next->kind == U_ROW))
		return "\n";
	return "\n\n";
}

static void pack_unit(struct packer *k, const struct unit *u)
{
	size_t n = strlen(u->text), ucps = cps(u->text, n);
	const char *sep = separator(k->last, u);
	size_t seplen = k->text.len ? strlen(sep) : 0;

	if (k->has_content && k->text_cps + seplen + ucps <= CHUNK_MAX_CHARS) {
		add_text(k, sep, u->text, n);
		k->last = u;
		return;
	}
	if (k->has_content) {
		/* Keep the next unit whole if it fits with less overlap. */
		size_t fit = ucps + 2 <= CHUNK_MAX_CHARS ? CHUNK_MAX_CHARS - 2 - ucps : 0;
		size_t ov = ucps + 2 > CHUNK_MAX_CHARS  ? CHUNK_OVERLAP_CHARS
		            : fit < CHUNK_OVERLAP_CHARS ? fit
		                                        : CHUNK_OVERLAP_CHARS;
		close_chunk(k, ov);
	}
	seplen = k->text.len ? strlen(sep) : 0;
	if (k->text_cps + seplen + ucps <= CHUNK_MAX_CHARS) {
		add_text(k, sep, u->text, n);
		k->last = u;
		return;
	}

	/* Too big for any chunk: cut it into pieces that fill chunks. */
	const char *rest = u->text;
	size_t rn = n, rcps = ucps; /* counted once: a block may be the whole note */
	while (rn) {
		seplen = k->text.len ? strlen(sep) : 0;
		size_t room = CHUNK_MAX_CHARS - k->text_cps - seplen;
		if (rcps <= room) {
			add_text(k, sep, rest, rn);
			break;
		}
		size_t end, next;
		bool nl;
		best_cut(rest, rn, room, &end, &next, &nl);
		add_text(k, sep, rest, end);
		close_chunk(k, CHUNK_OVERLAP_CHARS);
		sep = nl ? "\n" : " ";
		rcps -= cps(rest, next);
		rest += next;
		rn -= next;
	}
	k->last = u;
}

/* Plain text, when md4c cannot parse within bounds: one verbatim unit in one section. */
static void parse_plain(const char *content, struct parse *p)
{
	size_t n = strlen(content);
	parse_init(p, n);
	struct buf t;
	buf_init(&t, BUF_NOCAP);
	keep_verbatim(p, content, n, &t);
	if (t.len)
		push_unit(p, buf_steal(&t), U_PARA);
	else
		buf_free(&t);
}

/* Packs the units of p into chunks; a chunk never spans two sections. */
static void pack(const struct parse *p, struct packer *k)
{
	*k = (struct packer){0};
	buf_init(&k->text, BUF_NOCAP);
	for (size_t i = 0; i < p->nunits; i++) {
		if (i == 0 || p->units[i].section != p->units[i - 1].section) {
			close_chunk(k, 0);
			k->trail = p->trails[p->units[i].section];
			k->last = NULL;
		}
		pack_unit(k, &p->units[i]);
	}
	close_chunk(k, 0);
	buf_free(&k->text);
}

/*
 * Whether the chunks of an n-byte note are few and small enough: at most
 * one per CHUNK_MIN_BYTES of note, all of them together at most
 * CHUNKS_BYTES_FACTOR times it. Thousands of tiny sections, each chunk
 * repeating its trail, fail this and the note is cut as plain text.
 */
static bool within_bounds(const struct packer *k, size_t n)
{
	size_t bytes = 0;
	for (size_t i = 0; i < k->n; i++)
		bytes += strlen(k->v[i].heading) + strlen(k->v[i].text);
	return k->n <= n / CHUNK_MIN_BYTES + 64 && bytes <= CHUNKS_BYTES_FACTOR * n + WORK_SLACK;
}

size_t chunker_split(const char *title, const char *content, struct chunk **out)
{
	struct parse p;
	struct packer k;
	char *fixed = NULL;

	if (!title)
		title = "";
	if (!content)
		content = "";
	if (!text_utf8_valid(content, strlen(content)))
		content = fixed = text_utf8_sanitize(content);
	size_t n = strlen(content);
	bool markdown = parse_markdown(content, &p);
	if (!markdown)
		parse_plain(content, &p);
	pack(&p, &k);
	if (markdown && !within_bounds(&k, n)) {
		chunks_free(k.v, k.n);
		parse_free(&p);
		parse_plain(content, &p);
		pack(&p, &k);
	}
	if (k.n == 0) {
		k.v = xmalloc(sizeof(*k.v));
		k.v[k.n++] = (struct chunk){xstrdup(""), xstrdup(title)};
	}

	parse_free(&p);
	free(fixed);
	*out = k.v;
	return k.n;
}

void chunks_free(struct chunk *chunks, size_t n)
{
	if (!chunks)
		return;
	for (size_t i = 0; i < n; i++) {
		free(chunks[i].heading);
		free(chunks[i].text);
	}
	free(chunks);
}

char *chunker_embed_input(const char *title, const char *heading, const char *text)
{
	title = title ? title : "";
	text = text ? text : "";
	if (heading && *heading)
		return xasprintf("%s\n%s\n\n%s", title, heading, text);
	return xasprintf("%s\n\n%s", title, text);
}
