/*
 * import.c - POST /api/v1/import: files uploaded into notes, as `vault
 * import` reads a folder (services/import.h).
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "api/v1/v1.h"
#include "core/mem.h"
#include "services/import.h"

/* Imports at once: each holds its upload, unzipped, in memory. */
#define IMPORTS_MAX 2

static atomic_int imports;

static json_t *report_json(const struct import_report *r, bool dry_run)
{
	json_t *files = json_array();
	for (size_t i = 0; i < r->nmsgs; i++) {
		const struct import_message *m = &r->msgs[i];
		json_t *o = json_pack("{s:s,s:s}", "path", m->path, "outcome",
		                      import_outcome_name(m->outcome));
		if (m->from)
			json_object_set_new(o, "from", json_string(m->from));
		if (m->text)
			json_object_set_new(o, "detail", json_string(m->text));
		json_array_append_new(files, o);
	}
	return json_pack("{s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o}", "dry_run", dry_run, "added",
	                 (json_int_t)r->added, "updated", (json_int_t)r->updated, "unchanged",
	                 (json_int_t)r->unchanged, "renamed", (json_int_t)r->renamed, "deleted",
	                 (json_int_t)r->deleted, "kept", (json_int_t)r->kept, "failed",
	                 (json_int_t)r->failed, "files", files);
}

/* POST /api/v1/import[?dry_run=true]: .md, .txt, .pdf or .zip files as multipart/form-data. */
enum verr v1_import(struct api_req *req, struct api_resp *resp)
{
	const char *dry = api_query(req, "dry_run");
	if (dry && strcmp(dry, "true") != 0 && strcmp(dry, "false") != 0)
		return verr_set(req->err, VERR_INVALID, "dry_run: expected true or false");
	bool dry_run = dry && strcmp(dry, "true") == 0;
	if (atomic_fetch_add(&imports, 1) >= IMPORTS_MAX) {
		atomic_fetch_sub(&imports, 1);
		return verr_retry(req->err, VERR_UNAVAILABLE, 5,
		                  "%d imports are running: try again shortly", IMPORTS_MAX);
	}
	struct import_upload *up = xcalloc(req->nfiles, sizeof(*up));
	for (size_t i = 0; i < req->nfiles; i++)
		up[i] = (struct import_upload){req->files[i].name, req->files[i].data,
		                               req->files[i].len};
	struct import_report r;
	enum verr rc =
	    import_uploads(req->svc, req->user_id, up, req->nfiles, dry_run, &r, req->err);
	atomic_fetch_sub(&imports, 1);
	free(up);
	/* Nothing but failures: the upload itself is bad, and says why. */
	bool took = r.added + r.updated + r.unchanged + r.renamed + r.deleted > 0;
	if (rc == VERR_OK && !took && r.failed > 0) {
		const struct import_message *m = &r.msgs[0];
		rc = verr_set(req->err, VERR_INVALID, "%s: %s", m->path,
		              m->text ? m->text : "failed");
	}
	if (rc == VERR_OK)
		resp->body = report_json(&r, dry_run);
	import_report_free(&r);
	return rc;
}
