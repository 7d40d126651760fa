/*
 * notes.c - /api/v1/notes: create, list, read, update, delete; /api/v1/export.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "api/v1/v1.h"
#include "core/mem.h"
#include "services/export.h"
#include "services/notes.h"
#include "services/render.h"

static const char not_found[] = "Note not found";

/* Reads title, content and tags from the body; caller frees f->tags. */
static enum verr read_fields(struct api_req *req, struct note_fields *f)
{
	enum verr rc;
	*f = (struct note_fields){0};
	if ((rc = api_body_string(req, "title", false, &f->title)) ||
	    (rc = api_body_string(req, "content", false, &f->content)))
		return rc;
	const char **tags;
	rc = api_body_strings(req, "tags", &tags, &f->ntags, &f->has_tags);
	f->tags = tags;
	return rc;
}

/* POST /api/v1/notes {title, content?, tags?} */
enum verr v1_notes_create(struct api_req *req, struct api_resp *resp)
{
	struct note_fields f;
	struct note n;
	enum verr rc = read_fields(req, &f);
	if (rc == VERR_OK)
		rc = notes_create(req->svc, req->user_id, &f, &n, req->err);
	free((void *)f.tags);
	if (rc)
		return rc;
	resp->body = api_note_json(&n, true);
	resp->location = xasprintf("/api/v1/notes/%lld", (long long)n.id);
	note_free(&n);
	return VERR_OK;
}

/* GET /api/v1/notes?skip=&limit=&tag= */
enum verr v1_notes_list(struct api_req *req, struct api_resp *resp)
{
	int64_t skip, limit;
	struct note_page page;
	enum verr rc;
	if ((rc = api_query_int(req, "skip", 0, 0, INT64_MAX / 2, &skip)) ||
	    (rc = api_query_int(req, "limit", NOTES_LIMIT_DEFAULT, 1, NOTES_LIMIT_MAX, &limit)))
		return rc;
	size_t ntags;
	const char **tags = api_query_all(req, "tag", &ntags);
	rc = notes_list(req->svc, req->user_id, skip, limit, tags, ntags, &page, req->err);
	free(tags);
	if (rc)
		return rc;
	json_t *items = json_array();
	for (size_t i = 0; i < page.n; i++)
		json_array_append_new(items, api_note_json(&page.items[i], true));
	resp->body = json_pack("{s:o,s:I,s:I,s:I}", "items", items, "total", (json_int_t)page.total,
	                       "skip", (json_int_t)skip, "limit", (json_int_t)limit);
	note_page_free(&page);
	return VERR_OK;
}

/* GET /api/v1/tags[?limit=]: the user's tags, most used first, with their note counts. */
enum verr v1_tags(struct api_req *req, struct api_resp *resp)
{
	int64_t limit;
	struct tag_count *tags;
	size_t n;
	enum verr rc;
	if ((rc = api_query_int(req, "limit", TAGS_LIMIT_DEFAULT, 1, TAGS_LIMIT_MAX, &limit)) ||
	    (rc = notes_tags(req->svc, req->user_id, limit, &tags, &n, req->err)))
		return rc;
	json_t *items = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(items, json_pack("{s:s,s:I}", "tag", tags[i].tag, "notes",
		                                       (json_int_t)tags[i].notes));
	tag_counts_free(tags, n);
	resp->body = json_pack("{s:o}", "tags", items);
	return VERR_OK;
}

/* GET /api/v1/notes/{id}[?format=html]: html adds "content_html", the content rendered. */
enum verr v1_notes_get(struct api_req *req, struct api_resp *resp)
{
	int64_t id;
	struct note n;
	char *html = NULL;
	enum verr rc;
	const char *format = api_query(req, "format");
	if (format && strcmp(format, "json") != 0 && strcmp(format, "html") != 0)
		return verr_set(req->err, VERR_INVALID, "format: must be json or html");
	if ((rc = api_param_id(req, 0, not_found, &id)) ||
	    (rc = notes_get(req->svc, req->user_id, id, &n, req->err)))
		return rc;
	if (format && strcmp(format, "html") == 0)
		html = render_markdown_html(n.content);
	resp->body = api_note_json(&n, true);
	if (html)
		json_object_set_new(resp->body, "content_html", json_string(html));
	free(html);
	note_free(&n);
	return VERR_OK;
}

/* POST /api/v1/render {content}: {"html"} of Markdown, as a note would show (editor preview). */
enum verr v1_render(struct api_req *req, struct api_resp *resp)
{
	const char *content;
	char *html;
	enum verr rc;
	if ((rc = api_body_string(req, "content", true, &content)))
		return rc;
	if (strlen(content) > NOTE_CONTENT_MAX)
		return verr_set(req->err, VERR_TOO_LARGE, "content: at most %d bytes",
		                NOTE_CONTENT_MAX);
	html = render_markdown_html(content);
	resp->body = json_pack("{s:s}", "html", html);
	free(html);
	return VERR_OK;
}

/* PUT /api/v1/notes/{id} {title?, content?, tags?} */
enum verr v1_notes_update(struct api_req *req, struct api_resp *resp)
{
	int64_t id;
	struct note_fields f = {0};
	struct note n;
	enum verr rc;
	if ((rc = api_param_id(req, 0, not_found, &id)) || (rc = read_fields(req, &f)) ||
	    (rc = notes_update(req->svc, req->user_id, id, &f, &n, req->err))) {
		free((void *)f.tags);
		return rc;
	}
	free((void *)f.tags);
	resp->body = api_note_json(&n, true);
	note_free(&n);
	return VERR_OK;
}

/* A link as JSON: the other note's id and title (null when unresolved), the target as written. */
static json_t *link_json(const struct note_link *l, int64_t other)
{
	json_t *o =
	    json_pack("{s:s,s:s}", "target", l->target, "kind", l->embed ? "embed" : "link");
	json_object_set_new(o, "note_id", other ? json_integer(other) : json_null());
	json_object_set_new(o, "title", l->title ? json_string(l->title) : json_null());
	return o;
}

/*
 * GET /api/v1/notes/{id}/links: {"outgoing": [...], "backlinks": [...]},
 * the note's [[links]] in order (unresolved ones with a null note_id) and
 * the user's notes linking to it.
 */
enum verr v1_notes_links(struct api_req *req, struct api_resp *resp)
{
	int64_t id;
	struct note_link *out, *in;
	size_t nout, nin;
	enum verr rc;
	if ((rc = api_param_id(req, 0, not_found, &id)) ||
	    (rc = notes_links(req->svc, req->user_id, id, &out, &nout, &in, &nin, req->err)))
		return rc;
	json_t *o = json_array(), *b = json_array();
	for (size_t i = 0; i < nout; i++)
		json_array_append_new(o, link_json(&out[i], out[i].to_note));
	for (size_t i = 0; i < nin; i++)
		json_array_append_new(b, link_json(&in[i], in[i].from_note));
	resp->body = json_pack("{s:o,s:o}", "outgoing", o, "backlinks", b);
	note_links_free(out, nout);
	note_links_free(in, nin);
	return VERR_OK;
}

/* DELETE /api/v1/notes/{id} */
enum verr v1_notes_delete(struct api_req *req, struct api_resp *resp)
{
	int64_t id;
	enum verr rc;
	(void)resp;
	if ((rc = api_param_id(req, 0, not_found, &id)))
		return rc;
	return notes_delete(req->svc, req->user_id, id, req->err);
}

/*
 * The zip is built in memory: EXPORT_ZIP_MAX bounds one export and
 * EXPORTS_MAX how many run at once, so exports cannot take the memory other
 * requests need. `vault export` writes files and has no such bound.
 */
#define EXPORT_ZIP_MAX ((size_t)256 << 20)
#define EXPORTS_MAX    2

static atomic_int exports;

static enum verr zip_note(void *ctx, const struct note *n, struct verror *err)
{
	return export_zip_add(ctx, n, err);
}

/* GET /api/v1/export: every note as a Markdown file with front matter, in a zip. */
enum verr v1_export(struct api_req *req, struct api_resp *resp)
{
	if (atomic_fetch_add(&exports, 1) >= EXPORTS_MAX) {
		atomic_fetch_sub(&exports, 1);
		return verr_retry(req->err, VERR_UNAVAILABLE, 5,
		                  "%d exports are running: try again shortly", EXPORTS_MAX);
	}
	struct export_zip *z = export_zip_new(EXPORT_ZIP_MAX);
	char *data;
	size_t n;
	enum verr rc = export_each(req->svc, req->user_id, zip_note, z, req->err);
	if (rc) {
		struct verror ignored;
		export_zip_finish(z, &data, &n, &ignored);
		free(data);
	} else {
		rc = export_zip_finish(z, &data, &n, req->err);
	}
	atomic_fetch_sub(&exports, 1);
	/* 413 is about request bodies; this is the answer's size, which the caller cannot change.
	 */
	if (rc == VERR_TOO_LARGE)
		rc = verr_set(
		    req->err, VERR_INVALID,
		    "the export is over %zu MiB: `vault export` on the server has no limit",
		    EXPORT_ZIP_MAX >> 20);
	if (rc)
		return rc;
	resp->text = data;
	resp->text_len = n;
	resp->content_type = "application/zip";
	resp->attachment = "vault-export.zip";
	return VERR_OK;
}
