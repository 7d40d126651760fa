/*
 * obsidian.c - front matter, inline tags, wikilinks and the first heading of
 * an Obsidian-flavoured Markdown file (see obsidian.h).
 *
 * The front matter is YAML between a first line "---" and the next line
 * "---" or "..."; without that closing line the file has none, as in
 * Obsidian. libyaml's event parser reads it: aliases are never expanded, so
 * its work is linear in at most OBSIDIAN_FRONT_MAX bytes. Tags follow
 * Obsidian's rule: '#' at the start of a word, then letters, digits, marks,
 * '_', '-' or '/', not digits only.
 */
#include "services/obsidian.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <utf8proc.h>
#include <yaml.h>

#include "core/buf.h"
#include "core/mem.h"
#include "services/markdown.h"
#include "services/notes.h"

/* ------------------------------------------------------------ collecting */

/* s[0..n) without white space around it, or NULL if nothing is left. */
static char *span_dup(const char *s, size_t n)
{
	while (n && isspace((unsigned char)*s))
		s++, n--;
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	return n ? xstrndup(s, n) : NULL;
}

static void add_tag(struct obsidian_doc *d, const char *s, size_t n)
{
	while (n && isspace((unsigned char)*s))
		s++, n--;
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	if (n == 0)
		return;
	for (size_t i = 0; i < d->ntags; i++)
		if (strlen(d->tags[i]) == n && strncasecmp(d->tags[i], s, n) == 0)
			return;
	if (d->ntags == OBSIDIAN_TAGS_MAX) {
		d->tags_over = true;
		return;
	}
	if (d->ntags == 0)
		d->tags = xcalloc(OBSIDIAN_TAGS_MAX, sizeof(char *));
	d->tags[d->ntags++] = xstrndup(s, n);
}

static void add_alias(struct obsidian_doc *d, const char *s, size_t n)
{
	while (n && isspace((unsigned char)*s))
		s++, n--;
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	if (n == 0 || d->naliases == OBSIDIAN_TAGS_MAX)
		return;
	if (d->naliases == 0)
		d->aliases = xcalloc(OBSIDIAN_TAGS_MAX, sizeof(char *));
	d->aliases[d->naliases++] = xstrndup(s, n);
}

/* The pieces of a list given as one string: "a, b" (tags also "#a #b"). */
static void add_split(struct obsidian_doc *d, const char *s, size_t n, bool tags)
{
	size_t start = 0;
	for (size_t i = 0; i <= n; i++)
		if (i == n || s[i] == ',' || (tags && isspace((unsigned char)s[i]))) {
			size_t hash = tags && i > start && s[start] == '#'; /* "#a #b" */
			(tags ? add_tag : add_alias)(d, s + start + hash, i - start - hash);
			start = i + 1;
		}
}

/* ----------------------------------------------------------------- dates */

static bool digits(const char *s, size_t n, int *out)
{
	*out = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*out = *out * 10 + (s[i] - '0');
	}
	return true;
}

/*
 * "2024-03-05", "2024-03-05T09:30", "2024-03-05 09:30:15.250", each with an
 * optional "Z" or "+01:00" (none means UTC), as milliseconds.
 */
static bool parse_date(const char *s, size_t n, int64_t *ms)
{
	struct tm tm = {0};
	int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0, off = 0;
	if (n < 10 || s[4] != '-' || s[7] != '-' || !digits(s, 4, &y) || !digits(s + 5, 2, &mo) ||
	    !digits(s + 8, 2, &d))
		return false;
	size_t i = 10;
	if (i < n && (s[i] == 'T' || s[i] == ' ')) {
		if (n < i + 6 || s[i + 3] != ':' || !digits(s + i + 1, 2, &h) ||
		    !digits(s + i + 4, 2, &mi))
			return false;
		i += 6;
		if (i < n && s[i] == ':') {
			if (n < i + 3 || !digits(s + i + 1, 2, &sec))
				return false;
			i += 3;
			if (i < n && s[i] == '.') {
				size_t f = ++i;
				while (i < n && s[i] >= '0' && s[i] <= '9')
					i++;
				if (i == f)
					return false;
				int scale = 100;
				for (size_t k = f; k < i && k < f + 3; k++, scale /= 10)
					frac += (s[k] - '0') * scale;
			}
		}
		if (i < n && s[i] == 'Z')
			i++;
		else if (i < n && (s[i] == '+' || s[i] == '-')) {
			int oh, om;
			if (n < i + 6 || s[i + 3] != ':' || !digits(s + i + 1, 2, &oh) ||
			    !digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
				return false;
			off = (oh * 60 + om) * (s[i] == '-' ? -1 : 1);
			i += 6;
		}
	}
	if (i != n || y < 1 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    sec > 60)
		return false;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	time_t t = timegm(&tm);
	if (tm.tm_mday != d) /* "2024-02-30" rolled over */
		return false;
	*ms = ((int64_t)t - (int64_t)off * 60) * 1000 + frac;
	return true;
}

/* ---------------------------------------------------------- front matter */

/* Where the front matter's YAML is, and where the body starts; false if none. */
static bool find_front(const char *s, size_t n, size_t *yaml, size_t *yaml_len, size_t *body)
{
	size_t i = n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
	if (n - i < 4 || memcmp(s + i, "---", 3) != 0)
		return false;
	i += 3;
	if (i < n && s[i] == '\r')
		i++;
	if (i >= n || s[i] != '\n')
		return false;
	*yaml = ++i;
	while (i < n) {
		const char *nl = memchr(s + i, '\n', n - i);
		size_t end = nl ? (size_t)(nl - s) : n, len = end - i;
		while (len &&
		       (s[i + len - 1] == '\r' || s[i + len - 1] == ' ' || s[i + len - 1] == '\t'))
			len--;
		if (len == 3 && (memcmp(s + i, "---", 3) == 0 || memcmp(s + i, "...", 3) == 0)) {
			*yaml_len = i - *yaml;
			*body = nl ? end + 1 : n;
			return true;
		}
		i = end + 1;
	}
	return false;
}

struct yreader {
	yaml_parser_t p;
	yaml_event_t ev;
	bool have; /* ev holds an event to delete */
	struct verror *err;
};

static enum verr next(struct yreader *r)
{
	if (r->have)
		yaml_event_delete(&r->ev);
	r->have = false;
	if (!yaml_parser_parse(&r->p, &r->ev))
		return verr_set(r->err, VERR_INVALID, "front matter line %zu: %s",
		                r->p.problem_mark.line + 2,
		                r->p.problem ? r->p.problem : "not YAML");
	r->have = true;
	return VERR_OK;
}

/* Skips the node that starts with the current event. */
static enum verr skip_node(struct yreader *r)
{
	size_t depth = 0;
	enum verr rc;
	for (;;) {
		switch (r->ev.type) {
		case YAML_MAPPING_START_EVENT:
		case YAML_SEQUENCE_START_EVENT:
			depth++;
			break;
		case YAML_MAPPING_END_EVENT:
		case YAML_SEQUENCE_END_EVENT:
			depth--;
			break;
		default:
			break;
		}
		if (depth == 0)
			return VERR_OK;
		if ((rc = next(r)))
			return rc;
	}
}

static bool is_null(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;
	return ev->data.scalar.plain_implicit &&
	       (ev->data.scalar.length == 0 || strcmp(v, "~") == 0 || strcasecmp(v, "null") == 0);
}

enum key { K_OTHER, K_TITLE, K_TAGS, K_ALIASES, K_CREATED, K_UPDATED };

static enum key key_of(const char *k)
{
	static const struct {
		const char *name;
		enum key key;
	} keys[] = {{"title", K_TITLE},     {"tags", K_TAGS},       {"tag", K_TAGS},
	            {"aliases", K_ALIASES}, {"alias", K_ALIASES},   {"created", K_CREATED},
	            {"date", K_CREATED},    {"updated", K_UPDATED}, {"modified", K_UPDATED}};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcasecmp(k, keys[i].name) == 0) /* "Tags:" too, as Obsidian reads it */
			return keys[i].key;
	return K_OTHER;
}

/* Records the first thing wrong with the front matter that does not stop it being read. */
static void warn(struct obsidian_doc *d, size_t line, const char *name, const char *what)
{
	if (!d->warning[0])
		snprintf(d->warning, sizeof(d->warning), "front matter line %zu: %s %s; left out",
		         line, name, what);
}

/*
 * The value of a known key, at the current event. A value of the wrong
 * kind is left out with a warning: Obsidian shows such a file all the same.
 */
static enum verr read_value(struct yreader *r, struct obsidian_doc *d, enum key key,
                            const char *name)
{
	yaml_event_t *ev = &r->ev;
	size_t line = ev->start_mark.line + 2;
	enum verr rc;
	if (ev->type == YAML_SCALAR_EVENT && is_null(ev))
		return VERR_OK;
	bool scalar = ev->type == YAML_SCALAR_EVENT;
	const char *v = (const char *)ev->data.scalar.value;
	size_t n = ev->data.scalar.length;
	switch (key) {
	case K_TITLE:
		if (!scalar) {
			warn(d, line, name, "is not text");
			break;
		}
		free(d->title);
		d->title = span_dup(v, n);
		for (char *p = d->title; p && *p; p++) /* a block scalar's lines, as one */
			if (*p == '\n' || *p == '\r' || *p == '\t')
				*p = ' ';
		return VERR_OK;
	case K_TAGS:
	case K_ALIASES:
		if (scalar) {
			add_split(d, v, n, key == K_TAGS);
			return VERR_OK;
		}
		if (ev->type != YAML_SEQUENCE_START_EVENT) {
			warn(d, line, name, "is not a list or text");
			break;
		}
		for (;;) {
			if ((rc = next(r)))
				return rc;
			if (ev->type == YAML_SEQUENCE_END_EVENT)
				return VERR_OK;
			if (ev->type != YAML_SCALAR_EVENT) {
				warn(d, (size_t)ev->start_mark.line + 2, name,
				     "holds an item that is not text");
				if ((rc = skip_node(r)))
					return rc;
			} else if (!is_null(ev)) {
				(key == K_TAGS ? add_tag : add_alias)(
				    d, (const char *)ev->data.scalar.value, ev->data.scalar.length);
			}
		}
	case K_CREATED:
	case K_UPDATED:
		if (scalar && parse_date(v, n, key == K_CREATED ? &d->created_ms : &d->updated_ms))
			return VERR_OK;
		warn(d, line, name, "is not a date (2024-03-05 or 2024-03-05T09:30:00Z)");
		break;
	case K_OTHER:
		break;
	}
	return skip_node(r);
}

static enum verr read_front(const char *yaml, size_t n, struct obsidian_doc *d, struct verror *err)
{
	struct yreader r = {.err = err};
	enum verr rc;
	if (!yaml_parser_initialize(&r.p))
		abort(); /* out of memory, as xmalloc */
	yaml_parser_set_input_string(&r.p, (const unsigned char *)yaml, n);
	yaml_parser_set_encoding(&r.p, YAML_UTF8_ENCODING);
	/* STREAM-START, then DOCUMENT-START or STREAM-END (nothing at all). */
	if ((rc = next(&r)) || (rc = next(&r)) || r.ev.type == YAML_STREAM_END_EVENT ||
	    (rc = next(&r)))
		goto out;
	if (r.ev.type == YAML_SCALAR_EVENT && is_null(&r.ev))
		goto out; /* only comments */
	if (r.ev.type != YAML_MAPPING_START_EVENT) {
		rc = verr_set(err, VERR_INVALID, "front matter: must be keys with values");
		goto out;
	}
	for (;;) {
		if ((rc = next(&r)))
			goto out;
		if (r.ev.type == YAML_MAPPING_END_EVENT)
			break;
		enum key key = K_OTHER;
		char name[16] = "";
		if (r.ev.type == YAML_SCALAR_EVENT) {
			key = key_of((const char *)r.ev.data.scalar.value);
			snprintf(name, sizeof(name), "%s", (const char *)r.ev.data.scalar.value);
		} else if ((rc = skip_node(&r))) {
			goto out;
		}
		if ((rc = next(&r)) || (rc = read_value(&r, d, key, name)))
			goto out;
	}
	/* A second document after the first is not front matter. */
	if ((rc = next(&r)) || (rc = next(&r)))
		goto out;
	if (r.ev.type != YAML_STREAM_END_EVENT)
		rc = verr_set(err, VERR_INVALID, "front matter: must be one YAML document");
out:
	if (r.have)
		yaml_event_delete(&r.ev);
	yaml_parser_delete(&r.p);
	return rc;
}

/* ------------------------------------------------------------------ body */

struct scan {
	struct obsidian_doc *d;
	int wikilink; /* inside [[...]]: its text is the alias, not tags */
	int heading;  /* inside the first level-1 heading */
	bool had_h1;
	struct buf title, alias;
	char *raw; /* the open wikilink's target as written */
	bool kept; /* whether the open wikilink is the last of links */
	char prev; /* the text's last byte, ' ' at a boundary */
};

static bool add_link(struct scan *sc, const char *t, size_t n, bool embed);

/*
 * Tags and embeds in s[0..n), md4c's normal text outside code and links:
 * md4c reads "![[" as the start of an image, so an embed reaches us as text.
 */
static void scan_text(struct scan *sc, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '!' && n - i > 5 && memcmp(s + i + 1, "[[", 2) == 0) {
			size_t b = i + 3, e = b;
			while (e + 1 < n && s[e] != ']' && s[e] != '[' && s[e] != '\n')
				e++;
			if (e + 1 < n && s[e] == ']' && s[e + 1] == ']' && e > b) {
				const char *bar = memchr(s + b, '|', e - b);
				size_t tn = bar ? (size_t)(bar - (s + b)) : e - b;
				if (add_link(sc, s + b, tn, true) && bar)
					sc->d->links[sc->d->nlinks - 1].alias =
					    span_dup(bar + 1, (size_t)(s + e - bar - 1));
				i = e + 1;
				continue;
			}
		}
		char before = i ? s[i - 1] : sc->prev;
		if (s[i] != '#' || !(isspace((unsigned char)before) || before == '\0'))
			continue;
		size_t j = i + 1;
		bool word = false;
		while (j < n) {
			utf8proc_int32_t cp;
			utf8proc_ssize_t len = utf8proc_iterate((const utf8proc_uint8_t *)s + j,
			                                        (utf8proc_ssize_t)(n - j), &cp);
			if (len <= 0)
				break;
			utf8proc_category_t c = utf8proc_category(cp);
			bool digit = cp >= '0' && cp <= '9';
			bool letter = (c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_ME) ||
			              c == UTF8PROC_CATEGORY_ND || c == UTF8PROC_CATEGORY_NL ||
			              c == UTF8PROC_CATEGORY_NO;
			if (!letter && cp != '_' && cp != '-' && cp != '/')
				break;
			word |= !digit;
			j += (size_t)len;
		}
		size_t end = j;
		while (end > i + 1 && s[end - 1] == '/')
			end--;
		if (word && end - (i + 1) <= NOTE_TAG_MAX * 4)
			add_tag(sc->d, s + i + 1, end - (i + 1));
		i = j - 1;
	}
	if (n)
		sc->prev = s[n - 1];
}

/* A wikilink's target "Note#Heading^block" into its parts; false if not kept. */
static bool add_link(struct scan *sc, const char *t, size_t n, bool embed)
{
	struct obsidian_doc *d = sc->d;
	if (d->nlinks == OBSIDIAN_LINKS_MAX) {
		d->links_over = true;
		return false;
	}
	/* "[[Note\\|alias]]" in a table: md4c leaves the pipe in the target. */
	const char *bar = memchr(t, '|', n);
	const char *alias = bar ? bar + 1 : NULL;
	size_t alias_len = bar ? (size_t)(t + n - alias) : 0;
	if (bar)
		n = (size_t)(bar - t) - (bar > t && bar[-1] == '\\');
	const char *hash = memchr(t, '#', n), *caret = memchr(t, '^', n);
	size_t name = hash ? (size_t)(hash - t) : caret ? (size_t)(caret - t) : n;
	struct obsidian_link l = {.embed = embed};
	if (name >= 3 && strncasecmp(t + name - 3, ".md", 3) == 0)
		l.target = span_dup(t, name - 3);
	else
		l.target = span_dup(t, name);
	if (!l.target) /* [[#Heading]]: a link within the note itself */
		return false;
	if (hash) {
		const char *h = hash + 1, *e = caret && caret > hash ? caret : t + n;
		l.heading = span_dup(h, (size_t)(e - h));
	}
	if (caret)
		l.block = span_dup(caret + 1, (size_t)(t + n - caret - 1));
	if (alias)
		l.alias = span_dup(alias, alias_len);
	if (d->nlinks % 64 == 0)
		d->links = xrealloc(d->links, (d->nlinks + 64) * sizeof(*d->links));
	d->links[d->nlinks++] = l;
	return true;
}

static int enter_block(MD_BLOCKTYPE type, void *detail, void *u)
{
	struct scan *sc = u;
	sc->prev = ' ';
	if (type == MD_BLOCK_H && ((MD_BLOCK_H_DETAIL *)detail)->level == 1 && !sc->had_h1) {
		sc->had_h1 = true;
		sc->heading = 1;
	}
	return 0;
}

static int leave_block(MD_BLOCKTYPE type, void *detail, void *u)
{
	struct scan *sc = u;
	(void)detail;
	sc->prev = ' ';
	if (type == MD_BLOCK_H && sc->heading) {
		sc->heading = 0;
		char *t = buf_steal(&sc->title);
		if (!sc->d->title)
			sc->d->title = span_dup(t, strlen(t));
		free(t);
	}
	return 0;
}

static int enter_span(MD_SPANTYPE type, void *detail, void *u)
{
	struct scan *sc = u;
	if (type == MD_SPAN_WIKILINK && !sc->wikilink++) {
		const MD_ATTRIBUTE *a = &((MD_SPAN_WIKILINK_DETAIL *)detail)->target;
		sc->kept = add_link(sc, a->text, a->size, false);
		free(sc->raw);
		sc->raw = xstrndup(a->text, a->size);
		buf_reset(&sc->alias);
	}
	sc->prev = ' ';
	return 0;
}

static int leave_span(MD_SPANTYPE type, void *detail, void *u)
{
	struct scan *sc = u;
	(void)detail;
	if (type == MD_SPAN_WIKILINK && !--sc->wikilink && sc->kept) {
		struct obsidian_link *l = &sc->d->links[sc->d->nlinks - 1];
		/* md4c gives [[t]] the text "t" and [[t|a]] the text "a". */
		if (!l->alias && sc->alias.len && strcmp(sc->alias.p, sc->raw) != 0)
			l->alias = span_dup(sc->alias.p, sc->alias.len);
		buf_reset(&sc->alias);
	}
	sc->prev = ' ';
	return 0;
}

static int text(MD_TEXTTYPE type, const MD_CHAR *s, MD_SIZE n, void *u)
{
	struct scan *sc = u;
	if (sc->heading)
		(void)buf_add(&sc->title, s, n); /* capped: a longer heading is cut there */
	if (sc->wikilink) {
		(void)buf_add(&sc->alias, s, n);
		return 0;
	}
	switch (type) {
	case MD_TEXT_NORMAL:
		scan_text(sc, s, n);
		break;
	case MD_TEXT_SOFTBR:
	case MD_TEXT_BR:
		sc->prev = ' ';
		break;
	default:
		sc->prev = n ? s[n - 1] : sc->prev;
		break;
	}
	return 0;
}

/* ------------------------------------------------------------------- API */

/* The deepest nesting of flow collections in s[0..n) passes max (libyaml is quadratic in it). */
static bool nested_deeper(const char *s, size_t n, int max)
{
	int depth = 0;
	for (size_t i = 0; i < n; i++) {
		depth += s[i] == '[' || s[i] == '{';
		depth -= (s[i] == ']' || s[i] == '}') && depth > 0;
		if (depth > max)
			return true;
	}
	return false;
}

void obsidian_parse(const char *text_, size_t n, struct obsidian_doc *out)
{
	memset(out, 0, sizeof(*out));
	size_t yaml = 0, yaml_len = 0, body = 0;
	if (find_front(text_, n, &yaml, &yaml_len, &body)) {
		struct verror err = {0};
		enum verr rc = VERR_OK;
		if (yaml_len > OBSIDIAN_FRONT_MAX)
			rc = verr_set(&err, VERR_INVALID, "front matter: longer than %d KiB",
			              OBSIDIAN_FRONT_MAX / 1024);
		else if (nested_deeper(text_ + yaml, yaml_len, OBSIDIAN_FRONT_DEPTH))
			rc = verr_set(&err, VERR_INVALID,
			              "front matter: lists nested deeper than %d",
			              OBSIDIAN_FRONT_DEPTH);
		else
			rc = read_front(text_ + yaml, yaml_len, out, &err);
		if (rc) { /* kept as the note's text, as Obsidian shows it */
			obsidian_doc_free(out);
			snprintf(out->warning, sizeof(out->warning), "%s; kept as text",
			         verr_detail(&err));
		} else {
			out->body = body;
		}
	}
	struct scan sc = {.d = out, .prev = ' '};
	buf_init(&sc.title, NOTE_TITLE_MAX * 4);
	buf_init(&sc.alias, NOTE_TITLE_MAX * 4);
	MD_PARSER parser = {
	    .flags = MARKDOWN_DIALECT | MD_FLAG_WIKILINKS,
	    .enter_block = enter_block,
	    .leave_block = leave_block,
	    .enter_span = enter_span,
	    .leave_span = leave_span,
	    .text = text,
	};
	markdown_parse(text_ + out->body, n - out->body, &parser, &sc, NULL);
	buf_free(&sc.title);
	buf_free(&sc.alias);
	free(sc.raw);
}

void obsidian_doc_free(struct obsidian_doc *d)
{
	free(d->title);
	for (size_t i = 0; i < d->ntags; i++)
		free(d->tags[i]);
	free(d->tags);
	for (size_t i = 0; i < d->naliases; i++)
		free(d->aliases[i]);
	free(d->aliases);
	for (size_t i = 0; i < d->nlinks; i++) {
		free(d->links[i].target);
		free(d->links[i].heading);
		free(d->links[i].block);
		free(d->links[i].alias);
	}
	free(d->links);
	memset(d, 0, sizeof(*d));
}
