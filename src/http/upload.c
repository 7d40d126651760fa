/*
 * upload.c - the files of a multipart/form-data body, for API_UPLOAD
 * routes: libmicrohttpd's post processor parses the body server.c
 * collected (bounded by MAX_UPLOAD_BYTES), and each part that names a file
 * becomes an api_file. Parts without a file name (form fields) are
 * ignored: a route's options come in its query string.
 */
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/mem.h"
#include "core/text.h"
#include "http/server_int.h"

struct parts {
	struct api_file *files;
	size_t n, cap;
	struct buf cur; /* the bytes of files[n - 1] so far */
	struct verror *err;
};

/* Moves the bytes gathered (a buf is NUL-terminated) into the last file. */
static void close_part(struct parts *p)
{
	if (p->n == 0)
		return;
	struct api_file *f = &p->files[p->n - 1];
	f->len = p->cur.len;
	f->data = buf_steal(&p->cur);
}

static enum MHD_Result on_part(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *filename, const char *content_type,
                               const char *transfer_encoding, const char *data, uint64_t off,
                               size_t size)
{
	struct parts *p = cls;
	(void)kind, (void)key, (void)content_type, (void)transfer_encoding;
	if (!filename)
		return MHD_YES;
	/* A part starts at offset 0; an empty first piece is the same part. */
	struct api_file *last = p->n ? &p->files[p->n - 1] : NULL;
	bool same = last && !last->data && p->cur.len == 0 && strcmp(last->name, filename) == 0;
	if (off == 0 && !same) {
		/* The name goes into answers and paths: text only. */
		if (!text_utf8_valid(filename, strlen(filename))) {
			verr_set(p->err, VERR_INVALID, "a file name is not UTF-8");
			return MHD_NO;
		}
		if (p->n == HTTP_UPLOAD_FILES_MAX) {
			verr_set(p->err, VERR_TOO_LARGE, "more than %d files in one upload",
			         HTTP_UPLOAD_FILES_MAX);
			return MHD_NO;
		}
		close_part(p);
		if (p->n == p->cap) {
			p->cap = p->cap ? 2 * p->cap : 16;
			p->files = xrealloc(p->files, p->cap * sizeof(*p->files));
		}
		p->files[p->n++] = (struct api_file){.name = xstrdup(filename)};
	}
	buf_add(&p->cur, data, size); /* cannot pass the cap: the body did not */
	return MHD_YES;
}

void http_upload_free(struct api_file *files, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(files[i].name);
		free(files[i].data);
	}
	free(files);
}

enum verr http_upload_parse(struct MHD_Connection *c, const struct buf *body, size_t limit,
                            struct api_file **files, size_t *n, struct verror *err)
{
	static const char multipart[] = "multipart/form-data";
	const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
	*files = NULL;
	*n = 0;
	if (!ct || strncasecmp(ct, multipart, sizeof(multipart) - 1) != 0)
		return verr_set(
		    err, VERR_MEDIA_TYPE,
		    "Content-Type must be multipart/form-data, with the files as parts");
	struct parts p = {.err = err};
	buf_init(&p.cur, limit);
	struct MHD_PostProcessor *pp = MHD_create_post_processor(c, 64 * 1024, on_part, &p);
	verr_clear(err);
	bool ok = pp && MHD_post_process(pp, body->p, body->len) == MHD_YES;
	/* Destroying reports a body that ended inside a part. */
	if (pp && MHD_destroy_post_processor(pp) != MHD_YES)
		ok = false;
	close_part(&p);
	buf_free(&p.cur);
	if (!ok || p.n == 0) {
		http_upload_free(p.files, p.n);
		if (err->code)
			return err->code;
		return verr_set(err, VERR_INVALID,
		                ok ? "no files in the body: send them as parts with a filename"
		                   : "the multipart/form-data body cannot be read (its boundary?)");
	}
	*files = p.files;
	*n = p.n;
	return VERR_OK;
}
