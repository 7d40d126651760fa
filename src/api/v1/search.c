/*
 * search.c - /api/v1/search, /api/v1/ask and /api/v1/index/status.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/v1/v1.h"
#include "core/log.h"
#include "core/mem.h"
#include "services/rag.h"
#include "services/search.h"

static json_t *results_json(const struct search_query *q, const struct search_result *r)
{
	json_t *items = json_array();
	for (size_t i = 0; i < r->n; i++) {
		const struct search_hit *h = &r->hits[i];
		json_t *o = api_note_json(&h->note, false);
		/* Four decimals: enough to rank by eye, no float noise. */
		json_object_set_new(o, "similarity", json_real(round(h->similarity * 1e4) / 1e4));
		json_object_set_new(o, "score", json_real(round(h->score * 1e6) / 1e6));
		json_object_set_new(o, "excerpt", json_string(h->excerpt));
		json_object_set_new(o, "section", json_string(h->section ? h->section : ""));
		json_array_append_new(items, o);
	}
	json_t *body =
	    json_pack("{s:s,s:s,s:I,s:o}", "query", q->text, "mode", search_mode_name(q->mode),
	              "top_k", (json_int_t)q->top_k, "results", items);
	/* Hybrid without its semantic side says so: these are keyword matches only. */
	if (r->fallback)
		json_object_set_new(
		    body, "fallback",
		    json_pack("{s:s,s:s}", "mode", "keyword", "reason", r->fallback));
	return body;
}

static enum verr run(struct api_req *req, struct api_resp *resp, struct search_query *q)
{
	struct search_result r;
	enum verr rc = search_run(req->svc, req->user_id, q, &r, req->err);
	if (rc)
		return rc;
	resp->body = results_json(q, &r);
	search_result_free(&r);
	return VERR_OK;
}

static enum verr parse_mode(struct api_req *req, const char *mode, struct search_query *q)
{
	q->mode = SEARCH_HYBRID;
	if (mode && !search_mode_parse(mode, &q->mode))
		return verr_set(req->err, VERR_INVALID,
		                "mode: must be hybrid, semantic or keyword");
	return VERR_OK;
}

static enum verr parse_min_similarity(struct api_req *req, const char *s, double *out)
{
	char *end;
	*out = -1;
	if (!s)
		return VERR_OK;
	double v = strtod(s, &end);
	if (!*s || *end || !(v >= 0 && v <= 1))
		return verr_set(req->err, VERR_INVALID,
		                "min_similarity: must be a number from 0 to 1");
	*out = v;
	return VERR_OK;
}

/* The body's optional top_k, 1-SEARCH_TOP_K_MAX; *out keeps its default when absent. */
static enum verr body_top_k(struct api_req *req, size_t *out)
{
	json_t *v = json_object_get(req->body, "top_k");
	if (!v)
		return VERR_OK;
	if (!json_is_integer(v) || json_integer_value(v) < 1 ||
	    json_integer_value(v) > SEARCH_TOP_K_MAX)
		return verr_set(req->err, VERR_INVALID,
		                "top_k: must be a whole number from 1 to %d", SEARCH_TOP_K_MAX);
	*out = (size_t)json_integer_value(v);
	return VERR_OK;
}

/* GET /api/v1/search?query=&top_k=&mode=&tag=&min_similarity= */
enum verr v1_search(struct api_req *req, struct api_resp *resp)
{
	struct search_query q = {0};
	int64_t top_k;
	enum verr rc;
	q.text = api_query(req, "query");
	if (!q.text)
		return verr_set(req->err, VERR_INVALID, "query: field required");
	if ((rc = api_query_int(req, "top_k", SEARCH_TOP_K_DEFAULT, 1, SEARCH_TOP_K_MAX, &top_k)) ||
	    (rc = parse_mode(req, api_query(req, "mode"), &q)) ||
	    (rc = parse_min_similarity(req, api_query(req, "min_similarity"), &q.min_similarity)))
		return rc;
	q.top_k = (size_t)top_k;
	const char **tags = api_query_all(req, "tag", &q.ntags);
	q.tags = tags;
	rc = run(req, resp, &q);
	free(tags);
	return rc;
}

/* POST /api/v1/search {query, top_k?, mode?, tag?|tags?, min_similarity?} */
enum verr v1_search_post(struct api_req *req, struct api_resp *resp)
{
	struct search_query q = {.top_k = SEARCH_TOP_K_DEFAULT, .min_similarity = -1};
	const char *mode;
	const char **tags = NULL;
	enum verr rc;
	json_t *min_sim = json_object_get(req->body, "min_similarity");
	if ((rc = api_body_string(req, "query", true, &q.text)) ||
	    (rc = api_body_string(req, "mode", false, &mode)) || (rc = parse_mode(req, mode, &q)) ||
	    (rc = body_top_k(req, &q.top_k)))
		return rc;
	if (min_sim && (!json_is_number(min_sim) ||
	                !(json_number_value(min_sim) >= 0 && json_number_value(min_sim) <= 1)))
		return verr_set(req->err, VERR_INVALID,
		                "min_similarity: must be a number from 0 to 1");
	if (min_sim)
		q.min_similarity = json_number_value(min_sim);
	if ((rc = api_body_tags(req, &tags, &q.ntags)))
		return rc;
	q.tags = tags;
	rc = run(req, resp, &q);
	free(tags);
	return rc;
}

static json_t *citations_json(const struct ask_result *a)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < a->ncitations; i++) {
		const struct citation *c = &a->citations[i];
		json_array_append_new(arr, json_pack("{s:i,s:I,s:s,s:s,s:s}", "index", c->index,
		                                     "note_id", (json_int_t)c->note_id, "title",
		                                     c->title, "excerpt", c->excerpt, "section",
		                                     c->section));
	}
	return arr;
}

static json_t *model_json(const struct ask_result *a)
{
	return a->model ? json_string(a->model) : json_null();
}

/* What a streamed answer needs after the handler has returned; owns copies. */
struct ask_stream {
	struct svc *svc;
	const struct config *cfg;
	int64_t user_id;
	struct ask_request req;
	char *question;
	char **tags;
};

static void ask_stream_free(void *ctx)
{
	struct ask_stream *s = ctx;
	for (size_t i = 0; i < s->req.ntags; i++)
		free(s->tags[i]);
	free(s->tags);
	free(s->question);
	free(s);
}

static int send_token(void *ctx, const char *text, size_t len)
{
	if (len == 0) /* only asks whether the client is still there */
		return api_sse_gone(ctx);
	return api_sse_send(ctx, "token", json_pack("{s:s%}", "text", text, len));
}

/* Runs on the http layer's streaming thread. */
static void ask_stream(void *ctx, struct api_sse *sse)
{
	struct ask_stream *s = ctx;
	struct ask_result a;
	struct verror err;
	verr_clear(&err);
	if (rag_ask(s->svc, s->user_id, &s->req, send_token, sse, &a, &err)) {
		/* As a non-streamed reply would say it; the internals go to the log. */
		if (verr_status(err.code) >= 500 && err.code != VERR_AI_UNAVAILABLE)
			log_emit(LOG_ERROR, "ask_stream_failed",
			         json_pack("{s:s,s:s}", "code", verr_name(err.code), "error",
			                   verr_detail(&err)));
		api_sse_send(sse, "error",
		             json_pack("{s:s}", "detail", api_public_detail(s->cfg, &err)));
		return;
	}
	api_sse_send(
	    sse, "citations",
	    json_pack("{s:o,s:o}", "citations", citations_json(&a), "model", model_json(&a)));
	api_sse_send(sse, "done", json_pack("{s:s}", "answer", a.answer));
	ask_result_free(&a);
}

/* POST /api/v1/ask {question, top_k?, tag?, stream?} */
enum verr v1_ask(struct api_req *req, struct api_resp *resp)
{
	struct ask_request ar = {.top_k = ASK_TOP_K_DEFAULT};
	const char **tags = NULL;
	json_t *stream = json_object_get(req->body, "stream");
	enum verr rc;
	if ((rc = api_body_string(req, "question", true, &ar.question)) ||
	    (rc = body_top_k(req, &ar.top_k)))
		return rc;
	if (stream && !json_is_boolean(stream))
		return verr_set(req->err, VERR_INVALID, "stream: must be true or false");
	if ((rc = api_body_tags(req, &tags, &ar.ntags)))
		return rc;
	ar.tags = tags;

	if (json_is_true(stream)) {
		/* Refuse what can be refused while a status code can still say so. */
		if ((rc = rag_check(req->svc, &ar, req->err))) {
			free(tags);
			return rc;
		}
		struct ask_stream *s = xcalloc(1, sizeof(*s));
		s->svc = req->svc;
		s->cfg = req->cfg;
		s->user_id = req->user_id;
		s->question = xstrdup(ar.question);
		s->tags = xcalloc(ar.ntags ? ar.ntags : 1, sizeof(char *));
		for (size_t i = 0; i < ar.ntags; i++)
			s->tags[i] = xstrdup(tags[i]);
		s->req = (struct ask_request){s->question, ar.top_k, (const char *const *)s->tags,
		                              ar.ntags};
		free(tags);
		resp->stream = ask_stream;
		resp->stream_ctx = s;
		resp->stream_free = ask_stream_free;
		return VERR_OK;
	}

	struct ask_result a;
	rc = rag_ask(req->svc, req->user_id, &ar, NULL, NULL, &a, req->err);
	free(tags);
	if (rc)
		return rc;
	resp->body = json_pack("{s:s,s:o,s:o}", "answer", a.answer, "citations", citations_json(&a),
	                       "model", model_json(&a));
	ask_result_free(&a);
	return VERR_OK;
}

/* GET /api/v1/index/status */
enum verr v1_index_status(struct api_req *req, struct api_resp *resp)
{
	struct index_status st;
	const char *model;
	int dim;
	svc_embedding_model(req->svc, &model, &dim);
	enum verr rc = search_index_status(req->svc, req->user_id, &st, req->err);
	if (rc)
		return rc;
	resp->body = json_pack("{s:I,s:I,s:I,s:I,s:s,s:i}", "pending", (json_int_t)st.pending,
	                       "ready", (json_int_t)st.ready, "failed", (json_int_t)st.failed,
	                       "stale", (json_int_t)st.stale, "model", model, "dim", dim);
	return VERR_OK;
}
