/*
 * reply.c - answers of the HTTP server (see server_int.h): JSON bodies,
 * errors as {"detail": ...} with their status, CORS preflights and the web
 * page's files, each with the headers every answer carries (request id,
 * security, CORS, cache) and one log line per request.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/metrics.h"
#include "core/text.h"
#include "core/timeutil.h"
#include "http/server_int.h"

void *http_not_null(void *p)
{
	if (!p) {
		fputs("vault: out of memory\n", stderr);
		abort();
	}
	return p;
}

json_t *http_str(const char *s)
{
	char *t = text_utf8_sanitize(s);
	json_t *j = http_not_null(json_string(t));
	free(t);
	return j;
}

void http_headers(struct http_server *srv, struct MHD_Connection *c, struct MHD_Response *resp,
                  const struct request *r, const char *url)
{
	MHD_add_response_header(resp, "X-Request-ID", r->id);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	if (!MHD_get_response_header(resp, "Content-Security-Policy")) /* the page sets its own */
		MHD_add_response_header(resp, "Content-Security-Policy",
		                        "default-src 'none'; frame-ancestors 'none'");
	MHD_add_response_header(resp, "Cross-Origin-Resource-Policy", "same-origin");
	if (strncmp(url, "/api/", 5) == 0)
		MHD_add_response_header(resp, "Cache-Control", "no-store");
	const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
	if (origin && config_origin_allowed(srv->cfg, origin)) {
		MHD_add_response_header(resp, "Access-Control-Allow-Origin", origin);
		MHD_add_response_header(resp, "Access-Control-Expose-Headers",
		                        "X-Request-ID, Location, WWW-Authenticate");
	}
	MHD_add_response_header(resp, "Vary", "Origin");
	if (atomic_load(&srv->stopping))
		MHD_add_response_header(resp, "Connection", "close");
}

void http_log_request(struct request *r, const char *method, const char *url, int status,
                      int64_t user_id, const struct verror *err)
{
	json_t *f = http_not_null(json_pack(
	    "{s:s,s:o,s:o,s:i,s:f,s:o,s:s}", "request_id", r->id, "method", http_str(method),
	    "path", http_str(url), "status", status, "latency_ms", time_mono_ms() - r->start_ms,
	    "user_id", user_id ? json_integer(user_id) : json_null(), "client", r->client));
	/* Client errors may echo what the client sent: only server faults say why. */
	if (status >= 500 && err)
		json_object_set_new(f, "error", http_str(verr_detail(err)));
	log_emit(status >= 500 ? LOG_ERROR : LOG_INFO, "request", f);
	metrics_request(r->m.route ? r->m.route->pattern
	                : r->asset ? "static"
	                           : "unmatched",
	                method, status, (time_mono_ms() - r->start_ms) / 1000.0);
}

enum MHD_Result http_reply_text(struct http_server *srv, struct MHD_Connection *c,
                                struct request *r, const char *method, const char *url, int status,
                                char *text, size_t len, const char *content_type, int64_t user_id,
                                const struct verror *err, const char *const *extra)
{
	struct MHD_Response *resp;
	if (text) {
		resp = http_not_null(MHD_create_response_from_buffer(len ? len : strlen(text), text,
		                                                     MHD_RESPMEM_MUST_FREE));
		MHD_add_response_header(resp, "Content-Type", content_type);
	} else {
		resp = http_not_null(
		    MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT));
	}
	http_headers(srv, c, resp, r, url);
	for (; extra && extra[0]; extra += 2)
		MHD_add_response_header(resp, extra[0], extra[1]);
	enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, resp);
	MHD_destroy_response(resp);
	r->answered = true;
	http_log_request(r, method, url, status, user_id, err);
	return ok;
}

enum MHD_Result http_reply(struct http_server *srv, struct MHD_Connection *c, struct request *r,
                           const char *method, const char *url, int status, json_t *body,
                           int64_t user_id, const struct verror *err, const char *const *extra)
{
	char *text = body ? json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(8)) : NULL;
	json_decref(body);
	return http_reply_text(srv, c, r, method, url, status, text, 0, "application/json", user_id,
	                       err, extra);
}

enum MHD_Result http_reply_error(struct http_server *srv, struct MHD_Connection *c,
                                 struct request *r, const char *method, const char *url,
                                 const struct verror *err, int64_t user_id,
                                 const char *const *extra)
{
	int status = verr_status(err->code);
	const char *detail = api_public_detail(srv->cfg, err);
	const char *auth[] = {"WWW-Authenticate", "Bearer", NULL};
	char seconds[16];
	const char *retry[] = {"Retry-After", seconds, NULL};
	snprintf(seconds, sizeof(seconds), "%d", err->retry_after);
	return http_reply(srv, c, r, method, url, status,
	                  http_not_null(json_pack("{s:o}", "detail", http_str(detail))), user_id,
	                  err,
	                  status == 401          ? auth
	                  : err->retry_after > 0 ? retry
	                                         : extra);
}

enum MHD_Result http_preflight(struct http_server *srv, struct MHD_Connection *c, struct request *r,
                               const char *url, const char *origin)
{
	struct verror err;
	if (!config_origin_allowed(srv->cfg, origin)) {
		verr_set(&err, VERR_FORBIDDEN, "Origin not allowed");
		return http_reply_error(srv, c, r, "OPTIONS", url, &err, 0, NULL);
	}
	const char *extra[] = {"Access-Control-Allow-Methods",
	                       "GET, POST, PUT, DELETE",
	                       "Access-Control-Allow-Headers",
	                       "Authorization, Content-Type, X-Request-ID",
	                       "Access-Control-Max-Age",
	                       "600",
	                       NULL};
	return http_reply(srv, c, r, "OPTIONS", url, 204, NULL, 0, NULL, extra);
}

enum MHD_Result http_reply_asset(struct http_server *srv, struct MHD_Connection *c,
                                 struct request *r, const char *method, const char *url,
                                 const struct web_asset *a)
{
	const char *inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-None-Match");
	int status = inm && strcmp(inm, a->etag) == 0 ? 304 : 200;
	struct MHD_Response *resp = http_not_null(MHD_create_response_from_buffer(
	    status == 304 ? 0 : a->len, (void *)a->data, MHD_RESPMEM_PERSISTENT));
	if (status == 200)
		MHD_add_response_header(resp, "Content-Type", a->content_type);
	MHD_add_response_header(resp, "ETag", a->etag);
	/* Not fingerprinted: revalidate every time, a 304 when unchanged. */
	MHD_add_response_header(resp, "Cache-Control", "no-cache");
	if (web_is_page(a))
		MHD_add_response_header(resp, "Content-Security-Policy", WEB_PAGE_CSP);
	http_headers(srv, c, resp, r, url);
	enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, resp);
	MHD_destroy_response(resp);
	r->answered = true;
	r->asset = true;
	http_log_request(r, method, url, status, 0, NULL);
	return ok;
}
