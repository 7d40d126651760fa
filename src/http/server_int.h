/*
 * server_int.h - what the three files of the HTTP server share (private to
 * src/http/): the server and request structs, replies and streaming.
 *
 * server.c is the request's life cycle (admission, body, dispatch, shutdown),
 * reply.c writes answers and the request log line, stream.c answers with an
 * event stream. Nothing outside src/http/ includes this file.
 */
#ifndef VAULT_HTTP_SERVER_INT_H
#define VAULT_HTTP_SERVER_INT_H

#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "api/api.h"
#include "core/buf.h"
#include "core/config.h"
#include "http/router.h"
#include "http/web.h"

#define REQUEST_ID_MAX  128
#define MAX_CONNECTIONS 512

/* Open connections of one peer address (MAX_CONNECTIONS of them at most). */
struct peer {
	char addr[INET6_ADDRSTRLEN];
	int n;
};

struct http_server {
	struct MHD_Daemon *daemon;
	const struct config *cfg;
	struct svc *svc;
	int port;
	struct ratelimit *public_rl; /* API_PUBLIC routes, by client address */
	atomic_size_t buffered;      /* body bytes reserved by requests, of BODY_BUFFER_BYTES */
	pthread_mutex_t peers_mu;
	struct peer peers[MAX_CONNECTIONS];
	atomic_int in_flight; /* requests with their body in, not yet completed */
	atomic_int streams;   /* event-stream producers still running */
	atomic_bool closing;  /* the grace period is over: end open streams */
	atomic_bool stopping;
};

struct request {
	double start_ms;
	char id[REQUEST_ID_MAX + 1];
	char client[INET6_ADDRSTRLEN]; /* the client's address (see server.c) */
	struct route_match m;          /* the route, known once the headers are in */
	int64_t user_id;               /* authenticated with the headers, for API_AUTH routes */
	int64_t token_id;              /* their personal access token, 0 for a login's */
	bool read_only;                /* that token's scope is "read" */
	struct verror refused;         /* set when admit() refused the request */
	size_t limit;                  /* most body bytes this route takes */
	size_t reserved;               /* bytes of BODY_BUFFER_BYTES held for the body */
	struct buf body;               /* capped at limit */
	size_t received;               /* body bytes so far, kept or not */
	bool too_large;
	bool answered;
	bool body_unread; /* refused with the headers, a body announced: see linger() */
	bool in_flight;   /* counted in http_server.in_flight */
	bool asset;       /* answered with one of the web page's files */
};

/* ------------------------------------------------------------ upload.c */

#define HTTP_UPLOAD_FILES_MAX 20000 /* files in one upload (a vault's folder) */

/*
 * The files of body, a multipart/form-data request of c, each at most
 * limit bytes; *files (http_upload_free) holds *n >= 1 of them. 415 for
 * another Content-Type, 422 for a body that is not multipart or holds no
 * file, 413 past HTTP_UPLOAD_FILES_MAX files.
 */
enum verr http_upload_parse(struct MHD_Connection *c, const struct buf *body, size_t limit,
                            struct api_file **files, size_t *n, struct verror *err);
void http_upload_free(struct api_file *files, size_t n);

/* ------------------------------------------------------------ reply.c */

/*
 * MHD and jansson constructors return NULL only when out of memory (jansson
 * also for invalid UTF-8, which http_str rules out): aborts, as xmalloc does.
 */
void *http_not_null(void *p);

/* A JSON string of s, which may hold anything a client sent (json_string refuses bad UTF-8). */
json_t *http_str(const char *s);

/* The headers every answer carries: request id, security, CORS, cache. */
void http_headers(struct http_server *srv, struct MHD_Connection *c, struct MHD_Response *resp,
                  const struct request *r, const char *url);

/* The request's log line; err says why a 5xx failed. */
void http_log_request(struct request *r, const char *method, const char *url, int status,
                      int64_t user_id, const struct verror *err);

/*
 * Queues status with body (a JSON value, stolen; NULL for none) and extra
 * headers (name, value pairs, NULL-terminated; NULL for none).
 */
enum MHD_Result http_reply(struct http_server *srv, struct MHD_Connection *c, struct request *r,
                           const char *method, const char *url, int status, json_t *body,
                           int64_t user_id, const struct verror *err, const char *const *extra);

/* status with text (stolen) of content_type, headers as http_reply's. */
enum MHD_Result http_reply_text(struct http_server *srv, struct MHD_Connection *c,
                                struct request *r, const char *method, const char *url, int status,
                                char *text, size_t len, const char *content_type, int64_t user_id,
                                const struct verror *err, const char *const *extra);

/* err's status with {"detail": ...}, as much of the detail as a client may read. */
enum MHD_Result http_reply_error(struct http_server *srv, struct MHD_Connection *c,
                                 struct request *r, const char *method, const char *url,
                                 const struct verror *err, int64_t user_id,
                                 const char *const *extra);

/* A CORS preflight: 204 with what may be sent, or 403 for an origin not allowed. */
enum MHD_Result http_preflight(struct http_server *srv, struct MHD_Connection *c, struct request *r,
                               const char *url, const char *origin);

/* GET or HEAD of one of the web page's files; 304 when the client has these bytes. */
enum MHD_Result http_reply_asset(struct http_server *srv, struct MHD_Connection *c,
                                 struct request *r, const char *method, const char *url,
                                 const struct web_asset *a);

/* ------------------------------------------------------------ stream.c */

/* Answers 200 text/event-stream and starts the producer; takes resp's stream. */
enum MHD_Result http_reply_stream(struct http_server *srv, struct MHD_Connection *c,
                                  struct request *r, const char *method, const char *url,
                                  struct api_resp *resp, int64_t user_id);

#endif
