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
 */
#include "services/chunker.h"

#include <md4c.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/text.h"

#define LIST_DEPTH_MAX   32 /* deeper lists are tracked as this deep */
#define INDENT_DEPTH_MAX 4  /* nested items indent at most 2 * 3 spaces */
#define QUOTE_DEPTH_MAX  3  /* at most "> > > " */

static const char replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */

/* ---------------------------------------------------------------------- */
/* Growable strings                                                        */
/* ---------------------------------------------------------------------- */

/* A string that grows; its input is the note, itself bounded (1 MiB). */
struct buf {
	char *p;
	size_t len, cap;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		while (b->len + n + 1 > cap)
			cap *= 2;
		b->p = xrealloc(b->p, cap);
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->p)
		b->p[0] = '\0';
}

static char *buf_dup(const struct buf *b)
{
	return xstrndup(b->p ? b->p : "", b->len);
}

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
	size_t cells;         /* cells so far in the table row */
	unsigned group;       /* counts top-level lists and tables */

	struct unit *units;
	size_t nunits, capunits;
	char **trails; /* per section: " > "-joined heading trail */
	size_t nsections, capsections;
};

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
static void collapse(const char *s, size_t n, struct buf *out)
{
	int pending = 0; /* 0 none, 1 space, 2 newline */
	for (size_t i = 0; i < n; i++) {
		if (is_space(s[i])) {
			if (s[i] == '\n')
				pending = 2;
			else if (!pending)
				pending = 1;
			continue;
		}
		if (pending && out->len)
			buf_adds(out, pending == 2 ? "\n" : " ");
		pending = 0;
		buf_add(out, s + i, 1);
	}
}

/* Code: as written, less blank lines before and white space after. */
static void keep_verbatim(const char *s, size_t n, struct buf *out)
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
	buf_add(out, s + start, n - start);
}

/* Ends the block being read: its text, if any, becomes a unit. */
static void flush(struct parse *p)
{
	struct buf body = {0}, text = {0};
	if (p->verbatim)
		keep_verbatim(p->cur.p ? p->cur.p : "", p->cur.len, &body);
	else
		collapse(p->cur.p ? p->cur.p : "", p->cur.len, &body);
	buf_reset(&p->cur);
	enum unit_kind kind = p->kind;
	p->kind = U_PARA;
	if (!body.len) {
		free(body.p);
		return;
	}
	int q = p->quote_depth < QUOTE_DEPTH_MAX ? p->quote_depth : QUOTE_DEPTH_MAX;
	for (int i = 0; i < q; i++)
		buf_adds(&text, "> ");
	if (p->marker_pending) {
		buf_add(&text, p->marker.p, p->marker.len);
		p->marker_pending = false;
		if (kind != U_CODE)
			kind = U_ITEM;
	}
	buf_add(&text, body.p, body.len);
	free(body.p);
	push_unit(p, text.p, kind);
}

static char *make_trail(struct parse *p)
{
	struct buf t = {0};
	buf_add(&t, "", 0);
	for (int i = 0; i < 6; i++) {
		if (!p->levels[i] || !*p->levels[i])
			continue;
		if (t.len)
			buf_adds(&t, " > ");
		buf_adds(&t, p->levels[i]);
	}
	return t.p;
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
	buf_add(&p->marker, "", 0);
	int depth = p->list_depth < INDENT_DEPTH_MAX ? p->list_depth : INDENT_DEPTH_MAX;
	for (int i = 1; i < depth; i++)
		buf_adds(&p->marker, "  ");
	int top = (p->list_depth < LIST_DEPTH_MAX ? p->list_depth : LIST_DEPTH_MAX) - 1;
	if (top >= 0 && p->lists[top].ordered) {
		char num[24];
		snprintf(num, sizeof(num), "%u. ", p->lists[top].next++);
		buf_adds(&p->marker, num);
	} else {
		buf_adds(&p->marker, "- ");
	}
	if (d && d->is_task)
		buf_adds(&p->marker, d->task_mark == ' ' ? "[ ] " : "[x] ");
	p->marker_pending = true;
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
		if (p->cells++)
			buf_adds(&p->cur, " | ");
		break;
	default: /* P, HR, TABLE */
		flush(p);
		break;
	}
	return 0;
}

static int leave_block(MD_BLOCKTYPE type, void *detail, void *userdata)
{
	struct parse *p = userdata;
	(void)detail;
	switch (type) {
	case MD_BLOCK_H: {
		struct buf t = {0};
		collapse(p->heading.p ? p->heading.p : "", p->heading.len, &t);
		for (int i = p->level - 1; i < 6; i++) {
			free(p->levels[i]);
			p->levels[i] = NULL;
		}
		p->levels[p->level - 1] = t.p ? t.p : xstrdup("");
		p->in_heading = false;
		push_section(p, make_trail(p));
		p->section_level = p->level;
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
		break;
	default: /* P, TR, TABLE, ... */
		flush(p);
		break;
	}
	return 0;
}

static int enter_span(MD_SPANTYPE type, void *detail, void *userdata)
{
	(void)type, (void)detail, (void)userdata;
	return 0;
}

/* &amp; &#233; &#x1F600;: decoded into out; unknown names stay as written. */
static void add_entity(struct buf *out, const char *s, size_t n)
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
			buf_adds(out, replacement);
			return;
		}
		char u[4];
		buf_add(out, u, text_utf8_encode(cp, u));
		return;
	}
	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
		if (strlen(named[i].name) == n && memcmp(named[i].name, s, n) == 0) {
			buf_adds(out, named[i].text);
			return;
		}
	}
	buf_add(out, s, n);
}

static int on_text(MD_TEXTTYPE type, const MD_CHAR *text, MD_SIZE size, void *userdata)
{
	struct parse *p = userdata;
	struct buf *b = p->in_heading ? &p->heading : &p->cur;
	switch (type) {
	case MD_TEXT_NULLCHAR:
		buf_adds(b, replacement);
		break;
	case MD_TEXT_BR:
		buf_adds(b, "\n");
		break;
	case MD_TEXT_SOFTBR:
		buf_adds(b, " ");
		break;
	case MD_TEXT_ENTITY:
		add_entity(b, text, size);
		break;
	case MD_TEXT_HTML:
		if (p->verbatim) /* an HTML block; inline tags are dropped */
			buf_add(b, text, size);
		break;
	default: /* NORMAL, CODE, LATEXMATH */
		buf_add(b, text, size);
		break;
	}
	return 0;
}

static void parse_free(struct parse *p)
{
	free(p->cur.p);
	free(p->marker.p);
	free(p->heading.p);
	for (int i = 0; i < 6; i++)
		free(p->levels[i]);
	for (size_t i = 0; i < p->nunits; i++)
		free(p->units[i].text);
	free(p->units);
	for (size_t i = 0; i < p->nsections; i++)
		free(p->trails[i]);
	free(p->trails);
}

/* Fills p with the units of content; false if md4c failed (p is then empty). */
static bool parse_markdown(const char *content, struct parse *p)
{
	MD_PARSER parser = {
	    .abi_version = 0,
	    .flags = MD_DIALECT_GITHUB,
	    .enter_block = enter_block,
	    .leave_block = leave_block,
	    .enter_span = enter_span,
	    .leave_span = enter_span,
	    .text = on_text,
	};
	size_t n = strlen(content);
	memset(p, 0, sizeof(*p));
	push_section(p, xstrdup(""));
	if (n > UINT32_MAX / 2 || md_parse(content, (MD_SIZE)n, &parser, p) != 0) {
		parse_free(p);
		memset(p, 0, sizeof(*p));
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
	struct buf text; /* the chunk being filled */
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
		k->v[k->n++] = (struct chunk){xstrdup(k->trail), buf_dup(&k->text)};
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

/* Plain text, when md4c cannot parse: one verbatim unit in one section. */
static void parse_plain(const char *content, struct parse *p)
{
	memset(p, 0, sizeof(*p));
	push_section(p, xstrdup(""));
	struct buf t = {0};
	keep_verbatim(content, strlen(content), &t);
	if (t.len)
		push_unit(p, t.p, U_PARA);
	else
		free(t.p);
}

size_t chunker_split(const char *title, const char *content, struct chunk **out)
{
	struct parse p;
	struct packer k = {0};
	char *fixed = NULL;

	if (!title)
		title = "";
	if (!content)
		content = "";
	if (!text_utf8_valid(content, strlen(content)))
		content = fixed = text_utf8_sanitize(content);
	if (!parse_markdown(content, &p))
		parse_plain(content, &p);

	/* Units come in section order; a chunk never spans two sections. */
	for (size_t i = 0; i < p.nunits; i++) {
		if (i == 0 || p.units[i].section != p.units[i - 1].section) {
			close_chunk(&k, 0);
			k.trail = p.trails[p.units[i].section];
			k.last = NULL;
		}
		pack_unit(&k, &p.units[i]);
	}
	close_chunk(&k, 0);
	if (k.n == 0) {
		k.v = xmalloc(sizeof(*k.v));
		k.v[k.n++] = (struct chunk){xstrdup(""), xstrdup(title)};
	}

	free(k.text.p);
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
