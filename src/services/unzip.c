/*
 * unzip.c - a zip's files with libarchive, under caps (see unzip.h).
 */
#include "services/unzip.h"

#include <archive.h>
#include <archive_entry.h>
#include <locale.h>
#include <search.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/buf.h"
#include "core/mem.h"
#include "core/text.h"

/*
 * The path as stored, made relative and '/'-separated ("./a\\b.md" ->
 * "a/b.md"), or NULL if any part is ".." or it holds a control byte.
 */
static int cmp_path(const void *a, const void *b)
{
	return strcmp(a, b);
}

static char *clean_path(const char *raw)
{
	size_t n = strlen(raw);
	char *p = xmalloc(n + 1), *o = p;
	const char *s = raw;
	while (*s) {
		while (*s == '/' || *s == '\\')
			s++;
		const char *e = s;
		while (*e && *e != '/' && *e != '\\')
			e++;
		size_t len = (size_t)(e - s);
		if (len == 2 && s[0] == '.' && s[1] == '.') {
			free(p);
			return NULL;
		}
		if (len && !(len == 1 && s[0] == '.')) {
			if (o > p)
				*o++ = '/';
			memcpy(o, s, len);
			o += len;
		}
		s = e;
	}
	*o = '\0';
	for (const char *c = p; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f) {
			free(p);
			return NULL;
		}
	return p;
}

enum verr unzip_each(const void *data, size_t n, const struct unzip_limits *lim, unzip_fn fn,
                     void *ctx, struct verror *err)
{
	/* libarchive converts names through the locale: UTF-8 for this thread, whatever the process
	 * has. */
	locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	locale_t was = utf8 ? uselocale(utf8) : (locale_t)0;
	struct archive *a = archive_read_new();
	if (!a)
		abort();
	/* Streamed by local headers: the seekable reader lists the whole central
	 * directory first, memory a crafted archive of tiny entries could inflate. */
	archive_read_support_format_zip_streamable(a);
	archive_read_support_filter_none(a);
	enum verr rc = VERR_OK;
	if (archive_read_open_memory(a, data, n) != ARCHIVE_OK) {
		rc = verr_set(err, VERR_INVALID, "not a zip file vault can read");
		goto out;
	}
	size_t files = 0, total = 0;
	void *seen = NULL; /* tsearch(3) tree of the paths handed on */
	struct buf b;
	buf_init(&b, lim->file_size);
	for (;;) {
		struct archive_entry *e;
		int r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			rc = verr_set(err, VERR_INVALID, "the zip is damaged after %zu files",
			              files);
			break;
		}
		if (archive_entry_filetype(e) == AE_IFDIR)
			continue;
		const char *raw = archive_entry_pathname_utf8(e);
		if (!raw)
			raw = archive_entry_pathname(e);
		if (!raw || !text_utf8_valid(raw, strlen(raw))) {
			rc = verr_set(err, VERR_INVALID,
			              "the zip holds a file name that is not UTF-8");
			break;
		}
		char *path = clean_path(raw);
		if (!path || !*path || raw[0] == '/' || raw[0] == '\\') {
			rc = verr_set(err, VERR_INVALID, "the zip holds a path outside it: %.200s",
			              raw);
			free(path);
			break;
		}
		/* macOS's resource forks ("__MACOSX/", "._x.md") are not files the person made. */
		const char *base = strrchr(path, '/');
		base = base ? base + 1 : path;
		if (strncmp(path, "__MACOSX/", 9) == 0 || strncmp(base, "._", 2) == 0) {
			free(path);
			continue;
		}
		if (tfind(path, &seen, cmp_path)) {
			rc = verr_set(err, VERR_INVALID, "the zip holds %.200s twice", path);
			free(path);
			break;
		}
		if (!tsearch(path, &seen, cmp_path))
			abort();
		if (++files > lim->files) {
			rc = verr_set(err, VERR_TOO_LARGE, "the zip holds more than %zu files",
			              lim->files);
			break;
		}
		/* Inflated a block at a time, counted as it comes: a bomb stops at the cap. */
		buf_reset(&b);
		for (;;) {
			const void *blk;
			size_t len;
			la_int64_t off;
			r = archive_read_data_block(a, &blk, &len, &off);
			if (r == ARCHIVE_EOF)
				break;
			if (r < ARCHIVE_WARN || (size_t)off != b.len) { /* zips have no holes */
				rc = verr_set(err, VERR_INVALID,
				              "%.200s: cannot be read from the zip", path);
				break;
			}
			if (total + len > lim->bytes)
				rc = verr_set(err, VERR_TOO_LARGE,
				              "the zip inflates to more than %zu MiB",
				              lim->bytes / (1024 * 1024));
			else if (buf_add(&b, blk, len))
				rc = verr_set(err, VERR_TOO_LARGE, "%.200s: over %zu MiB inflated",
				              path, lim->file_size / (1024 * 1024));
			if (rc)
				break;
			total += len;
		}
		if (rc == VERR_OK && fn)
			rc = fn(ctx, path, b.p ? b.p : "", b.len, err);
		if (rc)
			break;
	}
	buf_free(&b);
	tdestroy(seen, free);
out:
	archive_read_free(a);
	if (utf8) {
		uselocale(was);
		freelocale(utf8);
	}
	return rc;
}
