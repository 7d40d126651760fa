/*
 * upload.c - fuzz target: files uploaded to POST /api/v1/import
 * (import_uploads in services/import.c: Markdown, text, zips of a folder)
 * through the real services and SQLite store of the in-process harness.
 *
 * Input: uploads one after another (at most 8), each its name up to a
 * newline, its length (4 bytes, little-endian, cut to what is left) and its
 * bytes. A name ending in .pdf gets a letter
 * more: the PDF reader runs `vault pdf-text`, which this binary is not (the
 * pdf target fuzzes that reader). Properties: the import succeeds; nothing
 * is deleted; an upload of another kind fails; every path reported is
 * UTF-8 text; every link read back is the user's own note or unresolved.
 */
#include <string.h>
#include <strings.h>

#include "core/mem.h"
#include "core/text.h"
#include "fuzz.h"
#include "harness.h"
#include "services/import.h"
#include "services/notes.h"

#define UPLOADS_MAX 8

static bool ends(const char *s, const char *ext)
{
	size_t n = strlen(s), e = strlen(ext);
	return n > e && strcasecmp(s + n - e, ext) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct import_upload up[UPLOADS_MAX];
	char *names[UPLOADS_MAX], *bodies[UPLOADS_MAX];
	size_t n = 0;
	for (size_t at = 0; n < UPLOADS_MAX && at < size;) {
		const uint8_t *nl = memchr(data + at, '\n', size - at);
		size_t nlen = nl ? (size_t)(nl - data) - at : size - at;
		char *name = xstrndup((const char *)data + at, nlen);
		at += nlen + 1;
		uint32_t len = 0;
		if (at + 4 <= size) {
			memcpy(&len, data + at, 4);
			at += 4;
		}
		if (len > size - (at < size ? at : size))
			len = (uint32_t)(size - (at < size ? at : size));
		bodies[n] = xmalloc(len + 1);
		memcpy(bodies[n], data + (at < size ? at : size), len);
		bodies[n][len] = '\0';
		at += len;
		names[n] = ends(name, ".pdf") ? xasprintf("%sx", name) : xstrdup(name);
		free(name);
		up[n] = (struct import_upload){names[n], bodies[n], len};
		n++;
	}

	struct account a;
	struct verror err = {0};
	struct import_report r;
	harness_account(&a);
	struct svc *svc = harness_svc();
	CHECK(import_uploads(svc, a.user_id, up, n, false, &r, &err) == VERR_OK, "import: %s",
	      err.detail);
	CHECK(r.deleted == 0, "%zu deleted by an upload", r.deleted);
	for (size_t i = 0; i < r.nmsgs; i++)
		CHECK(text_utf8_valid(r.msgs[i].path, strlen(r.msgs[i].path)), "a path not UTF-8");
	for (size_t k = 0; k < n; k++) {
		if (ends(names[k], ".md") || ends(names[k], ".txt") || ends(names[k], ".zip"))
			continue;
		char *shown = text_utf8_sanitize(names[k]); /* as the report names it */
		bool failed = false;
		for (size_t i = 0; i < r.nmsgs && !failed; i++)
			failed = r.msgs[i].outcome == IMPORT_FAILED &&
			         strcmp(r.msgs[i].path, shown) == 0;
		CHECK(failed, "%s, of another kind, did not fail", shown);
		free(shown);
	}

	/* Links stay within the user's notes. */
	struct note_source *src;
	size_t nsrc;
	CHECK(store_note_sources(svc->store, a.user_id, &src, &nsrc, &err) == VERR_OK, "%s",
	      err.detail);
	for (size_t i = 0; i < nsrc; i++) {
		struct note_link *out, *in;
		size_t nout, nin;
		CHECK(notes_links(svc, a.user_id, src[i].note_id, &out, &nout, &in, &nin, &err) ==
		          VERR_OK,
		      "%s", err.detail);
		for (size_t k = 0; k < nout; k++) {
			struct note t;
			CHECK(!out[k].to_note ||
			          notes_get(svc, a.user_id, out[k].to_note, &t, &err) == VERR_OK,
			      "a link to note %lld, not the user's", (long long)out[k].to_note);
			if (out[k].to_note)
				note_free(&t);
		}
		note_links_free(out, nout);
		note_links_free(in, nin);
	}
	note_sources_free(src, nsrc);
	import_report_free(&r);
	harness_account_end(&a);
	for (size_t i = 0; i < n; i++) {
		free(names[i]);
		free(bodies[i]);
	}
	return 0;
}
