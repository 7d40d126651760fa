/*
 * api.h - what a route handler sees of a request, and what it answers.
 *
 * The http layer parses the request (path parameters, query, JSON body),
 * authenticates it when the route asks, and calls the handler. A handler
 * validates, calls a service and serialises; it returns an enum verr and the
 * http layer turns a failure into the status and {"detail": ...} body.
 */
#ifndef VAULT_API_API_H
#define VAULT_API_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "services/services.h"

#define API_MAX_PARAMS      2
#define API_PUBLIC_BODY_MAX 4096 /* a login is under 1 KB */

struct api_kv {
	const char *key;
	const char *value;
};

/* A file sent in a multipart/form-data body (API_UPLOAD routes). */
struct api_file {
	char *name; /* as the client named it (a browser's relative path, for a folder) */
	char *data; /* len bytes, then a NUL */
	size_t len;
};

struct api_req {
	struct svc *svc;
	const struct config *cfg;           /* the settings the server runs with */
	const char *params[API_MAX_PARAMS]; /* {name} captures of the route's pattern */
	const struct api_kv *query;         /* in the order sent; keys may repeat */
	size_t nquery;
	json_t *body;                 /* the JSON object sent, or NULL */
	const struct api_file *files; /* API_UPLOAD: the files sent, in order */
	size_t nfiles;
	int64_t user_id;            /* the caller, for routes with API_AUTH */
	int64_t token_id;           /* their personal access token's id; 0: a login's token */
	bool read_only;             /* that token's scope is "read" */
	const char *refresh_cookie; /* the API_REFRESH_COOKIE cookie sent, or NULL */
	struct verror *err;
};

/* The cookie holding a browser's refresh token (HttpOnly, Path=/api/v1/auth). */
#define API_REFRESH_COOKIE "vault_refresh"

/*
 * A streamed answer (text/event-stream). The http layer sends the headers,
 * then runs stream(stream_ctx, sse) on a thread of its own and frees the
 * context with stream_free when it returns.
 *
 * struct api_sse is where the events go: this layer defines it and the http
 * layer implements it (http/stream.c), so a route never calls up into http.
 */
struct api_sse {
	/* Sends one event; takes data (NULL: a value json_pack refused, which
	 * ends the stream with an error event). Nonzero once the client has
	 * gone: stop. */
	int (*send)(struct api_sse *sse, const char *event, json_t *data);
	/* Nonzero once the client has gone (or the server is closing): stop. */
	int (*gone)(struct api_sse *sse);
};
typedef void (*api_stream_fn)(void *ctx, struct api_sse *sse);

/*
 * What a client may read of err: its detail for a 4xx and for AI-unavailable
 * (written for users), else the code's default message, unless DEBUG is on
 * in development. Internals of a 5xx (database, timeouts) go to the log only.
 */
const char *api_public_detail(const struct config *cfg, const struct verror *err);

/* sse->send and sse->gone. */
int api_sse_send(struct api_sse *sse, const char *event, json_t *data);
int api_sse_gone(struct api_sse *sse);

struct api_resp {
	int status;      /* 0: the route's ok_status; 202 answers with no body */
	json_t *body;    /* handler sets; http frees */
	char *text;      /* instead of body: text of content_type; http frees */
	size_t text_len; /* bytes of text that is not a C string (0: strlen) */
	const char *content_type;
	const char *attachment; /* a file name: the answer is a download of that name */
	char *location;         /* optional Location header; http frees */
	char *set_cookie;       /* optional Set-Cookie header; http frees */
	api_stream_fn stream;   /* set instead of body to stream */
	void *stream_ctx;
	void (*stream_free)(void *ctx);
};

typedef enum verr (*api_handler)(struct api_req *req, struct api_resp *resp);

enum api_flags {
	API_AUTH = 1,          /* needs a valid bearer token */
	API_BODY = 2,          /* needs a JSON object body */
	API_OPTIONAL_BODY = 4, /* takes a JSON object body if one is sent */
	API_PUBLIC = 8,        /* takes a password or token unauthenticated: rate limited per
	                          client address, a small body (API_PUBLIC_BODY_MAX) */
	API_METRICS = 16,      /* needs METRICS_TOKEN as the bearer token; 404 without one set */
	API_ACCOUNT = 32,      /* manages the account or its tokens: never with a personal
	                          access token (403) */
	API_READ = 64,         /* a POST that changes nothing: open to a read-only token */
	API_UPLOAD = 128,      /* takes files as multipart/form-data, up to MAX_UPLOAD_BYTES */
};

struct api_route {
	const char *method;
	const char *pattern; /* "/api/v1/notes/{id}" */
	api_handler handler;
	int ok_status; /* 200, 201 or 204 */
	unsigned flags;
	/* For the OpenAPI document (api/openapi.c, which holds the schemas named here). */
	const char *summary;
	const char *query;    /* schema whose properties are the query parameters, or NULL */
	const char *request;  /* schema of the JSON body, or NULL */
	const char *response; /* schema of the JSON answer, or NULL */
	const char *media;    /* a media type the answer may have besides JSON, or NULL */
};

/* The routes of every API version and of health checks, ending with a zeroed entry. */
extern const struct api_route api_routes[];

/*
 * Checks a bearer token, sets req->user_id, token_id and read_only;
 * VERR_UNAUTHORIZED otherwise.
 */
enum verr api_authenticate(struct api_req *req, const char *authorization);

/* Whether a route changes something: any method but GET, unless flagged API_READ. */
bool api_route_writes(const struct api_route *r);

/*
 * Whether the caller of req may use route r, decided by the route's flags
 * and method alone, never by a handler: a personal access token never
 * reaches an API_ACCOUNT route, and a read-only one no route that writes.
 * VERR_FORBIDDEN saying why otherwise. authorization is the header as sent,
 * for the routes that authenticate by password or refresh token instead
 * (login, register, refresh): a personal access token there is refused too.
 */
enum verr api_authorize(const struct api_route *r, struct api_req *req, const char *authorization);

/* Last value of a query key, or NULL. */
const char *api_query(const struct api_req *req, const char *key);

/*
 * Whole-number query parameter in [min, max], def when absent; VERR_INVALID
 * naming the key otherwise.
 */
enum verr api_query_int(const struct api_req *req, const char *key, int64_t def, int64_t min,
                        int64_t max, int64_t *out);

/*
 * String field of the body. Absent: *out = NULL and VERR_OK unless required.
 * Present but null or not a string: VERR_INVALID naming the field.
 */
enum verr api_body_string(const struct api_req *req, const char *name, bool required,
                          const char **out);

/*
 * Array-of-strings field of the body; *present says whether it was sent.
 * *out is a new array of borrowed strings (caller frees the array only).
 */
enum verr api_body_strings(const struct api_req *req, const char *name, const char ***out,
                           size_t *n, bool *present);

/*
 * Tag filter of the body: "tag" as one string or "tags"/"tag" as an array of
 * strings. *out is a new array of borrowed strings (caller frees the array).
 */
enum verr api_body_tags(const struct api_req *req, const char ***out, size_t *n);

/* All values of a repeated query key, borrowed; caller frees the array. */
const char **api_query_all(const struct api_req *req, const char *key, size_t *n);

/* Path parameter i as a positive id; VERR_NOT_FOUND with not_found otherwise. */
enum verr api_param_id(const struct api_req *req, int i, const char *not_found, int64_t *out);

/* A note as the API shows it; content only when asked (search results leave it out). */
json_t *api_note_json(const struct note *n, bool with_content);

/* ISO 8601 UTC string of ms since the epoch. */
json_t *api_time(int64_t ms);

#endif
