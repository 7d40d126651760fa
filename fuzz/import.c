/*
 * import.c - fuzz target: a folder of files imported into a user's notes
 * (services/import.c) through the real services and SQLite store of the
 * in-process harness.
 *
 * Input: files separated by NUL bytes, each its path up to the first
 * newline, then its bytes (at most 16 files). Properties: the import
 * succeeds; every file has exactly one outcome; a file fails only when it
 * must (its path is not a relative path of non-empty parts other than .
 * and .., given twice, its bytes are not UTF-8 text, hold controls other
 * than tab and newlines, or are over 1 MiB); importing the same files again
 * changes nothing; every link read back is the user's own note or
 * unresolved.
 */
#include <string.h>

#include "core/text.h"
#include "fuzz.h"
#include "harness.h"
#include "services/import.h"
#include "services/notes.h"

#define FILES_MAX 16

/* Whether the file may fail: what import.h and the notes service refuse. */
static bool may_fail(const struct import_file *f, const struct import_file *all, size_t i)
{
	const char *p = f->path;
	size_t n = strlen(p);
	if (n == 0 || n > IMPORT_PATH_MAX || !text_utf8_valid(p, n) || text_has_control(p, false) ||
	    p[0] == '/' || strstr(p, "//") || p[n - 1] == '/' || strcmp(p, ".") == 0 ||
	    strcmp(p, "..") == 0 || strncmp(p, "./", 2) == 0 || strncmp(p, "../", 3) == 0 ||
	    strstr(p, "/./") || strstr(p, "/../") || (n >= 2 && strcmp(p + n - 2, "/.") == 0) ||
	    (n >= 3 && strcmp(p + n - 3, "/..") == 0))
		return true;
	for (size_t k = 0; k < i; k++)
		if (strcmp(all[k].path, p) == 0)
			return true;
	return memchr(f->data, '\0', f->len) || !text_utf8_valid(f->data, f->len) ||
	       text_has_control(f->data, true) || f->len > NOTE_CONTENT_MAX;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct import_file files[FILES_MAX];
	char *copy = malloc(size + 1);
	size_t n = 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	for (char *s = copy; n < FILES_MAX && s <= copy + size;) {
		size_t len = strlen(s); /* up to the NUL that ends this file */
		char *nl = memchr(s, '\n', len);
		char *body = nl ? nl + 1 : s + len;
		if (nl)
			*nl = '\0';
		files[n++] = (struct import_file){s, body, (size_t)(s + len - body), 0};
		s += len + 1;
	}

	struct account a;
	struct verror err = {0};
	struct import_report r1, r2;
	struct import_opts opts = {0};
	harness_account(&a);
	struct svc *svc = harness_svc();
	CHECK(import_files(svc, a.user_id, files, n, &opts, &r1, &err) == VERR_OK, "import: %s",
	      err.detail);
	CHECK(r1.added + r1.updated + r1.unchanged + r1.renamed + r1.failed == n &&
	          r1.deleted + r1.kept == 0,
	      "%zu files: %zu added, %zu failed", n, r1.added, r1.failed);
	for (size_t i = 0; i < r1.nmsgs; i++) {
		if (r1.msgs[i].outcome != IMPORT_FAILED)
			continue;
		size_t k = 0;
		while (k < n && strcmp(files[k].path, r1.msgs[i].path) != 0)
			k++;
		CHECK(k < n, "a failure for a path not given: %s", r1.msgs[i].path);
		/* A path given twice: the first may be fine and the second not. */
		bool may = false;
		for (size_t j = k; j < n && !may; j++)
			may = strcmp(files[j].path, files[k].path) == 0 &&
			      may_fail(&files[j], files, j);
		CHECK(may, "%s failed: %s", r1.msgs[i].path, r1.msgs[i].text);
	}

	/* Again: nothing changes. */
	CHECK(import_files(svc, a.user_id, files, n, &opts, &r2, &err) == VERR_OK, "again: %s",
	      err.detail);
	CHECK(r2.added == 0 && r2.updated == 0 && r2.renamed == 0 && r2.failed == r1.failed &&
	          r2.unchanged == r1.added + r1.updated + r1.unchanged + r1.renamed,
	      "again: %zu added, %zu updated, %zu renamed, %zu failed", r2.added, r2.updated,
	      r2.renamed, r2.failed);

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
	import_report_free(&r1);
	import_report_free(&r2);
	harness_account_end(&a);
	free(copy);
	return 0;
}
