/*
 * export.c - notes as Markdown files (see export.h). libyaml's emitter
 * writes the front matter, so any title or tag is quoted as YAML needs.
 */
#include "services/export.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "core/buf.h"
#include "core/mem.h"
#include "core/text.h"
#include "core/timeutil.h"
#include "services/notes.h"

#define NAME_MAX_BYTES 200

static int write_out(void *data, unsigned char *s, size_t n)
{
	return buf_add(data, s, n) == VERR_OK;
}

/*
 * Whether a plain scalar would read back as something other than text under
 * YAML 1.1 (null, a boolean, a number, a date): those are quoted.
 */
static bool looks_typed(const char *s)
{
	static const char *const words[] = {"null", "~",   "true", "false", "yes", "no",
	                                    "on",   "off", "y",    "n",     NULL};
	for (const char *const *w = words; *w; w++)
		if (strcasecmp(s, *w) == 0)
			return true;
	return !*s || strchr("0123456789+-.", *s);
}

static void emit(yaml_emitter_t *e, yaml_event_t *ev)
{
	/* Only an output failure fails, and buf_add never does without a cap. */
	if (!yaml_emitter_emit(e, ev))
		abort();
}

static void scalar(yaml_emitter_t *e, const char *s, bool typed_ok)
{
	yaml_event_t ev;
	yaml_scalar_style_t style =
	    !typed_ok && looks_typed(s) ? YAML_SINGLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE;
	yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1, 1,
	                             style);
	emit(e, &ev);
}

char *export_markdown(const struct note *n)
{
	struct buf b;
	buf_init(&b, BUF_NOCAP);
	buf_adds(&b, "---\n");
	yaml_emitter_t e;
	yaml_event_t ev;
	if (!yaml_emitter_initialize(&e))
		abort();
	yaml_emitter_set_output(&e, write_out, &b);
	yaml_emitter_set_unicode(&e, 1);
	yaml_emitter_set_width(&e, -1); /* never fold a long title */
	yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
	emit(&e, &ev);
	yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
	emit(&e, &ev);
	yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
	emit(&e, &ev);
	char num[24];
	snprintf(num, sizeof(num), "%lld", (long long)n->id);
	scalar(&e, "id", true); /* vault's id: import finds its notes by path and bytes instead */
	scalar(&e, num, true);
	scalar(&e, "title", true);
	scalar(&e, n->title, false);
	if (n->ntags) {
		scalar(&e, "tags", true);
		yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
		emit(&e, &ev);
		for (size_t i = 0; i < n->ntags; i++)
			scalar(&e, n->tags[i], false);
		yaml_sequence_end_event_initialize(&ev);
		emit(&e, &ev);
	}
	if (n->naliases) {
		scalar(&e, "aliases", true);
		yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
		emit(&e, &ev);
		for (size_t i = 0; i < n->naliases; i++)
			scalar(&e, n->aliases[i], false);
		yaml_sequence_end_event_initialize(&ev);
		emit(&e, &ev);
	}
	char iso[TIME_ISO_LEN];
	time_format_iso(n->created_at, iso);
	scalar(&e, "created", true);
	scalar(&e, iso, true);
	time_format_iso(n->updated_at, iso);
	scalar(&e, "updated", true);
	scalar(&e, iso, true);
	yaml_mapping_end_event_initialize(&ev);
	emit(&e, &ev);
	yaml_document_end_event_initialize(&ev, 1);
	emit(&e, &ev);
	yaml_stream_end_event_initialize(&ev);
	emit(&e, &ev);
	yaml_emitter_delete(&e);
	buf_adds(&b, "---\n");
	buf_adds(&b, n->content);
	if (b.len && b.p[b.len - 1] != '\n')
		buf_adds(&b, "\n");
	return buf_steal(&b);
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

struct base {
	char *key; /* the title's file name without ".md", case-folded */
	unsigned next;
};

static int cmp_base(const void *a, const void *b)
{
	return strcmp(((const struct base *)a)->key, ((const struct base *)b)->key);
}

/* Windows' device names: "CON.md" cannot be a file there. */
static bool reserved(const char *base)
{
	static const char *const names[] = {"CON", "PRN", "AUX", "NUL", NULL};
	for (const char *const *r = names; *r; r++)
		if (strcasecmp(base, *r) == 0)
			return true;
	return strlen(base) == 4 &&
	       (strncasecmp(base, "COM", 3) == 0 || strncasecmp(base, "LPT", 3) == 0) &&
	       base[3] >= '1' && base[3] <= '9';
}

char *export_file_name(struct export_names *used, const char *title)
{
	char *base = xmalloc(strlen(title) + 1);
	size_t n = 0;
	for (const char *p = title; *p; p++) {
		unsigned char c = (unsigned char)*p;
		bool bad = c < 0x20 || c == 0x7f || strchr("/\\:*?\"<>|#^[]", c);
		if (n == 0 && (c == '.' || c == ' '))
			continue;
		base[n++] = bad ? '-' : (char)c;
	}
	/* At most NAME_MAX_BYTES, cut at a character's start. */
	if (n > NAME_MAX_BYTES) {
		n = NAME_MAX_BYTES;
		while (n && ((unsigned char)base[n] & 0xC0) == 0x80)
			n--;
	}
	while (n && (base[n - 1] == '.' || base[n - 1] == ' '))
		n--;
	base[n] = '\0';
	if (n == 0) {
		free(base);
		base = xstrdup("Untitled");
	}
	if (reserved(base)) {
		char *b2 = xasprintf("%s-", base);
		free(base);
		base = b2;
	}
	/* The next number to try for this name, so a thousand "Untitled" cost a thousand tries. */
	struct base probe = {.key = text_fold(base)}, *b;
	struct base **found = tfind(&probe, &used->bases, cmp_base);
	if (found) {
		b = *found;
		free(probe.key);
	} else {
		b = xmalloc(sizeof(*b));
		*b = (struct base){probe.key, 1};
		if (!tsearch(b, &used->bases, cmp_base))
			abort();
	}
	for (unsigned k = b->next;; k++) {
		char *name = k == 1 ? xasprintf("%s.md", base) : xasprintf("%s %u.md", base, k);
		char *key = text_fold(name);
		if (!tfind(key, &used->root, cmp_name)) {
			if (!tsearch(key, &used->root, cmp_name))
				abort();
			b->next = k + 1;
			free(base);
			return name;
		}
		free(key);
		free(name);
	}
}

/*
 * Whether path can be written under the export's folder as it is: relative,
 * '/'-separated parts that are not empty, "." or "..", start with no dot,
 * and hold no character export_file_name replaces (but '/'), under 1024
 * bytes.
 */
static bool safe_path(const char *path)
{
	size_t n = strlen(path);
	if (n == 0 || n > 1024 || !text_utf8_valid(path, n))
		return false;
	for (const char *s = path; *s;) {
		size_t len = strcspn(s, "/");
		if (len == 0 || s[0] == '.' || len > NAME_MAX_BYTES)
			return false;
		for (size_t i = 0; i < len; i++) {
			unsigned char c = (unsigned char)s[i];
			if (c < 0x20 || c == 0x7f || strchr("\\:*?\"<>|#^[]", c))
				return false;
		}
		s += len + (s[len] == '/');
	}
	return true;
}

char *export_note_path(struct export_names *used, const struct note *n)
{
	if (n->source_path && safe_path(n->source_path)) {
		/* The file is Markdown now, whatever it was (a .txt, a PDF's text). */
		const char *p = n->source_path, *slash = strrchr(p, '/');
		const char *dot = strrchr(slash ? slash + 1 : p, '.');
		size_t len = dot && dot != (slash ? slash + 1 : p) ? (size_t)(dot - p) : strlen(p);
		char *name = dot && strcasecmp(dot, ".md") == 0 ? xstrdup(p)
		                                                : xasprintf("%.*s.md", (int)len, p);
		char *key = text_fold(name);
		if (!tfind(key, &used->root, cmp_name)) {
			if (!tsearch(key, &used->root, cmp_name))
				abort();
			return name;
		}
		free(key);
		free(name);
	}
	return export_file_name(used, n->title);
}

static void free_base(void *p)
{
	free(((struct base *)p)->key);
	free(p);
}

void export_names_free(struct export_names *used)
{
	tdestroy(used->root, free);
	tdestroy(used->bases, free_base);
	used->root = used->bases = NULL;
}

enum verr export_each(struct svc *svc, int64_t user_id,
                      enum verr (*fn)(void *ctx, const struct note *n, struct verror *err),
                      void *ctx, struct verror *err)
{
	int64_t created = INT64_MIN, id = 0; /* the last note given */
	enum verr rc;
	for (;;) {
		struct note_page page;
		if ((rc = store_notes_after(svc->store, user_id, created, id, NOTES_LIMIT_MAX,
		                            &page, err)))
			return rc;
		for (size_t i = 0; i < page.n && rc == VERR_OK; i++)
			rc = fn(ctx, &page.items[i], err);
		if (page.n) {
			created = page.items[page.n - 1].created_at;
			id = page.items[page.n - 1].id;
		}
		bool last = page.n < NOTES_LIMIT_MAX;
		note_page_free(&page);
		if (rc || last)
			return rc;
	}
}

struct export_zip {
	struct archive *a;
	struct buf out;
	struct export_names names;
	bool full; /* a write passed the cap: the archive is unusable */
};

static la_ssize_t zip_write(struct archive *a, void *ctx, const void *p, size_t n)
{
	struct export_zip *z = ctx;
	if (buf_add(&z->out, p, n)) {
		z->full = true;
		archive_set_error(a, ENOSPC, "over the export's size limit");
		return -1;
	}
	return (la_ssize_t)n;
}

struct export_zip *export_zip_new(size_t cap)
{
	struct export_zip *z = xcalloc(1, sizeof(*z));
	buf_init(&z->out, cap);
	z->a = archive_write_new();
	/* Names in UTF-8, flagged so, whatever the process's locale. */
	if (!z->a || archive_write_set_format_zip(z->a) != ARCHIVE_OK ||
	    archive_write_set_options(z->a, "zip:hdrcharset=UTF-8") != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(z->a, 1) != ARCHIVE_OK ||
	    archive_write_open(z->a, z, NULL, zip_write, NULL) != ARCHIVE_OK)
		abort(); /* out of memory: libarchive's setup fails for nothing else */
	return z;
}

enum verr export_zip_add(struct export_zip *z, const struct note *n, struct verror *err)
{
	char *name = export_note_path(&z->names, n);
	char *text = export_markdown(n);
	size_t len = strlen(text);
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname_utf8(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)len);
	archive_entry_set_mtime(e, n->updated_at / 1000, (long)(n->updated_at % 1000) * 1000000);
	bool ok = archive_write_header(z->a, e) == ARCHIVE_OK &&
	          archive_write_data(z->a, text, len) == (la_ssize_t)len;
	archive_entry_free(e);
	free(text);
	free(name);
	if (!ok)
		return z->full ? verr_set(err, VERR_TOO_LARGE, "the export is over %zu MiB",
		                          z->out.cap / (1024 * 1024))
		               : verr_set(err, VERR_INTERNAL, "cannot write the zip: %s",
		                          archive_error_string(z->a));
	return VERR_OK;
}

enum verr export_zip_finish(struct export_zip *z, char **data, size_t *n, struct verror *err)
{
	enum verr rc = VERR_OK;
	if (archive_write_close(z->a) != ARCHIVE_OK)
		rc = z->full ? verr_set(err, VERR_TOO_LARGE, "the export is over %zu MiB",
		                        z->out.cap / (1024 * 1024))
		             : verr_set(err, VERR_INTERNAL, "cannot write the zip: %s",
		                        archive_error_string(z->a));
	archive_write_free(z->a);
	*n = z->out.len;
	*data = rc ? NULL : buf_steal(&z->out);
	if (rc)
		*n = 0;
	buf_free(&z->out);
	export_names_free(&z->names);
	free(z);
	return rc;
}
