/*
 * server.c - request life cycle on top of libmicrohttpd: start and stop,
 * admission, the body, dispatch to the route. Answers are written by
 * reply.c, streamed ones by stream.c; server_int.h holds what they share.
 *
 * MHD calls on_request several times per request: first with the headers,
 * then with each piece of the body, then once more with none left. The body
 * is collected (bounded by MAX_BODY_BYTES) and the request dispatched on the
 * last call. on_completed runs when the response has gone out.
 *
 * MHD 0.9.75 lets a response be queued only with the headers or after the
 * whole body: MHD_queue_response fails while a body is arriving. So a body
 * that must stop (too large, past its deadline, server stopping) is cut by
 * returning MHD_NO, which closes the connection without an answer.
 *
 * Slow clients: MHD resets its idle timeout (IDLE_TIMEOUT_SECONDS) on every
 * byte and has no deadline of its own. A body must be in within
 * 2 x IDLE_TIMEOUT_SECONDS of the end of its headers, checked as each piece
 * arrives. The headers themselves we cannot bound: on_request first runs once
 * they are all in, so a client sending a header byte just inside every idle
 * timeout holds its connection until it reaches MHD's header memory limit
 * (32 KiB), which can be hours. What bounds such clients is
 * MAX_CONNECTIONS_PER_IP and MAX_CONNECTIONS; a proxy in front with a header
 * deadline (nginx client_header_timeout) closes the gap.
 *
 * Admission happens once the headers are in, before any body byte is read
 * (admit()): the route is known, so a route that takes a password is rate
 * limited per client address and takes at most API_PUBLIC_BODY_MAX bytes,
 * and a route that needs a token has it checked; and the body's announced
 * size is reserved from BODY_BUFFER_BYTES, which all bodies in memory share
 * (a body without a Content-Length reserves as it arrives and is cut when
 * the budget is spent). The client address is the peer's, or, when the
 * peer is one of TRUSTED_PROXIES, the last address in X-Forwarded-For that
 * is not a trusted proxy; connections per address are counted here rather
 * than by MHD, so that the proxy's own are not limited as one client.
 */
#include "http/server.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/metrics.h"
#include "core/ratelimit.h"
#include "core/security.h"
#include "core/timeutil.h"
#include "http/server_int.h"

#define MAX_CONNECTIONS_PER_IP 64
#define RATELIMIT_KEYS         65536 /* client addresses the API_PUBLIC limiter remembers */
#define TARPIT_MS              1000  /* how long an address over its limit waits for its 429 */
#define LINGER_MS              2000  /* longest wait for a refused body to stop coming */

static bool valid_request_id(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	return n >= 1 && n <= REQUEST_ID_MAX &&
	       strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

/* Drops the connection in the middle of a body (see the top of the file); says why in the log. */
static enum MHD_Result cut(struct request *r, const char *method, const char *url, const char *why)
{
	log_emit(LOG_WARNING, "request_cut",
	         http_not_null(json_pack("{s:s,s:o,s:o,s:s,s:I}", "request_id", r->id, "method",
	                                 http_str(method), "path", http_str(url), "reason", why,
	                                 "body_bytes", (json_int_t)r->received)));
	return MHD_NO;
}

struct query_vec {
	struct api_kv *items;
	size_t n, cap;
};

static enum MHD_Result collect_query(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
	struct query_vec *q = cls;
	(void)kind;
	if (q->n == q->cap) {
		q->cap = q->cap ? q->cap * 2 : 8;
		q->items = xrealloc(q->items, q->cap * sizeof(*q->items));
	}
	q->items[q->n++] = (struct api_kv){key, value ? value : ""};
	return MHD_YES;
}

static bool is_json(const char *content_type)
{
	static const char json[] = "application/json";
	if (!content_type || strncasecmp(content_type, json, sizeof(json) - 1) != 0)
		return false;
	char next = content_type[sizeof(json) - 1];
	return next == '\0' || next == ';' || next == ' ';
}

/* Everything after the body is in: route, authenticate, parse, handle, answer. */
static enum MHD_Result dispatch(struct http_server *srv, struct MHD_Connection *c,
                                struct request *r, const char *url, const char *method)
{
	struct verror err;
	struct query_vec q = {0};
	struct api_resp resp = {0};
	struct api_req req = {.svc = srv->svc, .cfg = srv->cfg, .err = &err};
	struct api_file *files = NULL;
	size_t nfiles = 0;
	enum MHD_Result ok;
	verr_clear(&err);

	const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
	if (strcmp(method, "OPTIONS") == 0 && origin &&
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Access-Control-Request-Method"))
		return http_preflight(srv, c, r, url, origin);

	const struct web_asset *asset = strncmp(url, "/api/", 5) ? web_find(url) : NULL;
	if (asset && (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0))
		return http_reply_asset(srv, c, r, method, url, asset);
	if (asset) {
		const char *allow[] = {"Allow", "GET, HEAD", NULL};
		verr_set(&err, VERR_METHOD, NULL);
		return http_reply_error(srv, c, r, method, url, &err, 0, allow);
	}

	const struct route_match *m = &r->m;
	if (!m->route) {
		const char *allow[] = {"Allow", m->allow, NULL};
		verr_set(&err, m->path_known ? VERR_METHOD : VERR_NOT_FOUND, NULL);
		return http_reply_error(srv, c, r, method, url, &err, 0,
		                        m->path_known ? allow : NULL);
	}
	const struct api_route *route = m->route;
	for (int i = 0; i < API_MAX_PARAMS; i++)
		req.params[i] = m->captures[i];
	req.refresh_cookie = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, API_REFRESH_COOKIE);
	req.user_id = r->user_id; /* authenticated and authorized by admit() */
	req.token_id = r->token_id;
	req.read_only = r->read_only;

	if (route->flags & API_UPLOAD) {
		if (http_upload_parse(c, &r->body, r->limit, &files, &nfiles, &err))
			goto fail;
		req.files = files;
		req.nfiles = nfiles;
		/* The files are all the handler reads: the body and its share of the
		 * budget go now, not once a long import has finished. */
		buf_free(&r->body);
		atomic_fetch_sub(&srv->buffered, r->reserved);
		r->reserved = 0;
	}
	if (route->flags & (API_BODY | API_OPTIONAL_BODY)) {
		if (r->body.len == 0 && (route->flags & API_BODY)) {
			verr_set(&err, VERR_INVALID, "Request body is required: a JSON object");
			goto fail;
		}
		if (r->body.len > 0) {
			const char *ct =
			    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
			if (!is_json(ct)) {
				verr_set(&err, VERR_MEDIA_TYPE,
				         "Content-Type must be application/json");
				goto fail;
			}
			json_error_t jerr;
			req.body =
			    json_loadb(r->body.p, r->body.len, JSON_REJECT_DUPLICATES, &jerr);
			if (!req.body) {
				verr_set(&err, VERR_INVALID,
				         "Invalid JSON body at line %d, column %d: %s", jerr.line,
				         jerr.column, jerr.text);
				goto fail;
			}
			if (!json_is_object(req.body)) {
				verr_set(&err, VERR_INVALID, "Request body must be a JSON object");
				goto fail;
			}
		}
	}

	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_query, &q);
	req.query = q.items;
	req.nquery = q.n;

	if (route->handler(&req, &resp) == VERR_OK) {
		if (resp.stream) {
			ok = http_reply_stream(srv, c, r, method, url, &resp, req.user_id);
			goto out;
		}
		const char *extra[7] = {NULL};
		size_t ne = 0;
		char *disposition = NULL;
		if (resp.location) {
			extra[ne++] = "Location";
			extra[ne++] = resp.location;
		}
		if (resp.set_cookie) {
			extra[ne++] = "Set-Cookie";
			extra[ne++] = resp.set_cookie;
		}
		if (resp.attachment) { /* the handler's own name: nothing to quote */
			disposition = xasprintf("attachment; filename=\"%s\"", resp.attachment);
			extra[ne++] = "Content-Disposition";
			extra[ne++] = disposition;
		}
		int status = resp.status ? resp.status : route->ok_status;
		if (resp.text) {
			ok = http_reply_text(srv, c, r, method, url, status, resp.text,
			                     resp.text_len, resp.content_type, req.user_id, NULL,
			                     extra);
			resp.text = NULL;
			free(disposition);
			goto out;
		}
		ok = http_reply(srv, c, r, method, url, status,
		                status == 202 || status == 204 ? NULL : json_incref(resp.body),
		                req.user_id, NULL, extra);
		free(disposition);
		goto out;
	}
fail:
	if (err.code == VERR_OK) /* a handler must say why it failed */
		verr_set(&err, VERR_INTERNAL, "handler failed without an error");
	ok = http_reply_error(srv, c, r, method, url, &err, req.user_id, NULL);
out:
	json_decref(resp.body);
	free(resp.text);
	free(resp.location);
	free(resp.set_cookie);
	json_decref(req.body);
	http_upload_free(files, nfiles);
	free(q.items);
	return ok;
}

/* ------------------------------------------------------------ admission */

/* The numeric text of a socket address; an IPv4-mapped IPv6 address as IPv4. */
static void addr_text(const struct sockaddr *sa, char out[INET6_ADDRSTRLEN])
{
	out[0] = '\0';
	if (sa && sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out,
		          INET6_ADDRSTRLEN);
	} else if (sa && sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a))
			inet_ntop(AF_INET, &a->s6_addr[12], out, INET6_ADDRSTRLEN);
		else
			inet_ntop(AF_INET6, a, out, INET6_ADDRSTRLEN);
	}
}

static bool is_ip(const char *s)
{
	unsigned char buf[16];
	return inet_pton(strchr(s, ':') ? AF_INET6 : AF_INET, s, buf) == 1;
}

/*
 * The client's address: the peer's, or behind a trusted proxy the last
 * X-Forwarded-For entry that is not itself a trusted proxy (entries before
 * it are the client's to write, so they are not believed).
 */
static void client_address(struct http_server *srv, struct MHD_Connection *c,
                           char out[INET6_ADDRSTRLEN])
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	addr_text(ci ? ci->client_addr : NULL, out);
	if (!config_proxy_trusted(srv->cfg, out))
		return;
	const char *xff = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-For");
	size_t end = xff ? strlen(xff) : 0;
	while (end > 0) {
		size_t beg = end;
		while (beg > 0 && xff[beg - 1] != ',')
			beg--;
		size_t a = beg, b = end;
		while (a < b && (xff[a] == ' ' || xff[a] == '\t'))
			a++;
		while (b > a && (xff[b - 1] == ' ' || xff[b - 1] == '\t'))
			b--;
		char entry[INET6_ADDRSTRLEN];
		if (b - a == 0 || b - a >= sizeof(entry))
			return;
		memcpy(entry, xff + a, b - a);
		entry[b - a] = '\0';
		if (!is_ip(entry))
			return;
		memcpy(out, entry, sizeof(entry));
		if (!config_proxy_trusted(srv->cfg, entry))
			return;
		end = beg > 0 ? beg - 1 : 0;
	}
}

/* Holds n more bytes of BODY_BUFFER_BYTES for r; false if they are not free. */
static bool reserve(struct http_server *srv, struct request *r, size_t n)
{
	size_t now = atomic_load(&srv->buffered);
	do {
		if (n > srv->cfg->body_buffer_bytes - now)
			return false;
	} while (!atomic_compare_exchange_weak(&srv->buffered, &now, now + n));
	r->reserved += n;
	return true;
}

/*
 * Everything decided from the headers alone: the route, the rate limit of
 * API_PUBLIC routes, the token of API_AUTH ones and what it may do there
 * (api_authorize), the body's size and room for it. On refusal r->refused says why.
 */
static enum verr admit(struct http_server *srv, struct MHD_Connection *c, struct request *r,
                       const char *url, const char *method)
{
	router_match(api_routes, method, url, &r->m);
	const struct api_route *route = r->m.route;
	r->limit = srv->cfg->max_body_bytes;
	/* An upload larger than all bodies may hold could only ever wait: 413 instead. */
	if (route && (route->flags & API_UPLOAD))
		r->limit = srv->cfg->max_upload_bytes < srv->cfg->body_buffer_bytes
		               ? srv->cfg->max_upload_bytes
		               : srv->cfg->body_buffer_bytes;
	if (route && (route->flags & API_PUBLIC)) {
		r->limit = API_PUBLIC_BODY_MAX;
		int wait = ratelimit_take(srv->public_rl, r->client, time_mono_ms());
		if (wait)
			return verr_retry(&r->refused, VERR_RATE_LIMITED, wait,
			                  "Too many requests from your address: try again in %d s",
			                  wait);
	}
	if (route && (route->flags & API_METRICS)) {
		const char *token = srv->cfg->metrics_token;
		const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
		if (!token) /* off: as if there were no such route */
			return verr_set(&r->refused, VERR_NOT_FOUND, NULL);
		if (!auth || strncasecmp(auth, "Bearer ", 7) != 0 || !secure_equal(auth + 7, token))
			return verr_set(&r->refused, VERR_UNAUTHORIZED,
			                "GET /metrics needs Authorization: Bearer <METRICS_TOKEN>");
	}
	if (route && (route->flags & (API_AUTH | API_ACCOUNT))) {
		const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
		struct api_req req = {.svc = srv->svc, .cfg = srv->cfg, .err = &r->refused};
		if (((route->flags & API_AUTH) && api_authenticate(&req, auth)) ||
		    api_authorize(route, &req, auth))
			return r->refused.code;
		r->user_id = req.user_id;
		r->token_id = req.token_id;
		r->read_only = req.read_only;
	}
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
	unsigned long long announced = cl ? strtoull(cl, NULL, 10) : 0;
	if (announced > r->limit)
		return verr_set(&r->refused, VERR_TOO_LARGE,
		                "Request body too large: the limit is %zu bytes", r->limit);
	if (announced && !reserve(srv, r, (size_t)announced))
		return verr_retry(&r->refused, VERR_UNAVAILABLE, 1,
		                  "Server busy with other uploads: try again in a moment");
	return VERR_OK;
}

/* The peer of addr in srv->peers, taking a free slot for a new one if add; NULL if none. */
static struct peer *find_peer(struct http_server *srv, const char *addr, bool add)
{
	struct peer *free_slot = NULL;
	for (size_t i = 0; i < MAX_CONNECTIONS; i++) {
		struct peer *p = &srv->peers[i];
		if (p->n > 0 && strcmp(p->addr, addr) == 0)
			return p;
		if (p->n == 0 && !free_slot)
			free_slot = p;
	}
	if (add && free_slot)
		memcpy(free_slot->addr, addr, sizeof(free_slot->addr));
	return add ? free_slot : NULL;
}

/* MHD asks before taking a connection: at most MAX_CONNECTIONS_PER_IP a peer, proxies aside. */
static enum MHD_Result accept_peer(void *cls, const struct sockaddr *sa, socklen_t len)
{
	struct http_server *srv = cls;
	char addr[INET6_ADDRSTRLEN];
	(void)len;
	addr_text(sa, addr);
	if (config_proxy_trusted(srv->cfg, addr))
		return MHD_YES;
	pthread_mutex_lock(&srv->peers_mu);
	struct peer *p = find_peer(srv, addr, false);
	bool ok = !p || p->n < MAX_CONNECTIONS_PER_IP;
	pthread_mutex_unlock(&srv->peers_mu);
	return ok ? MHD_YES : MHD_NO;
}

/* Counts a peer's connections as they start and close (MHD's global limit bounds the slots). */
static void connection_event(void *cls, struct MHD_Connection *c, void **socket_context,
                             enum MHD_ConnectionNotificationCode code)
{
	struct http_server *srv = cls;
	(void)socket_context;
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	char addr[INET6_ADDRSTRLEN];
	addr_text(ci ? ci->client_addr : NULL, addr);
	if (config_proxy_trusted(srv->cfg, addr))
		return;
	pthread_mutex_lock(&srv->peers_mu);
	bool started = code == MHD_CONNECTION_NOTIFY_STARTED;
	struct peer *p = find_peer(srv, addr, started);
	if (p)
		p->n += started ? 1 : -1;
	pthread_mutex_unlock(&srv->peers_mu);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
	struct http_server *srv = cls;
	struct request *r = *con_cls;
	(void)version;

	if (!r) {
		r = xcalloc(1, sizeof(*r));
		r->start_ms = time_mono_ms();
		*con_cls = r;
		const char *rid = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Request-ID");
		if (valid_request_id(rid))
			strcpy(r->id, rid);
		else
			random_hex(r->id, 16);
		client_address(srv, c, r->client);
		enum verr admitted = admit(srv, c, r, url, method);
		buf_init(&r->body, r->limit);
		if (admitted == VERR_OK)
			return MHD_YES;
		/* Refused before any of the body: answered below, now; an address
		 * over its limit waits for the answer first, on its connection's own
		 * thread. A crowd hammering login from one address then sends one
		 * request a second a connection, not as many as the server can
		 * refuse: answering 3,500 refusals a second made another user's p99
		 * 5-14 times its idle value (bench/admission.sh). */
		if (r->refused.code == VERR_RATE_LIMITED)
			for (int t = 0; t < TARPIT_MS && !atomic_load(&srv->stopping); t += 50)
				poll(NULL, 0, 50);
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
		r->body_unread =
		    (cl && strtoull(cl, NULL, 10) > 0) ||
		    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Transfer-Encoding");
	}

	if (*upload_data_size) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		r->received += n;
		if (atomic_load(&srv->stopping))
			return cut(r, method, url, "server stopping");
		if (time_mono_ms() - r->start_ms > 2000.0 * srv->cfg->idle_timeout_seconds)
			return cut(r, method, url, "body deadline passed");
		/* Only a chunked body gets here too large (an announced one is refused
		 * up front). Up to another limit's worth, which costs no more than an
		 * accepted body, is read and dropped so the client still gets its 413;
		 * past that the connection is cut. */
		if (r->received > r->limit) {
			r->too_large = true;
			buf_free(&r->body);
			return r->received > 2 * r->limit ? cut(r, method, url, "body too large")
			                                  : MHD_YES;
		}
		if (r->received > r->reserved && !reserve(srv, r, r->received - r->reserved))
			return cut(r, method, url, "body buffer budget spent");
		/* Within the cap: received, which counts every byte kept, is within limit. */
		buf_add(&r->body, upload_data, n);
		return MHD_YES;
	}

	if (r->answered)
		return MHD_YES;
	/* Shutdown waits for this one now; one still reading its body is cut. */
	r->in_flight = true;
	atomic_fetch_add(&srv->in_flight, 1);
	metrics_in_flight(1);
	if (r->too_large)
		verr_set(&r->refused, VERR_TOO_LARGE,
		         "Request body too large: the limit is %zu bytes", r->limit);
	if (r->refused.code)
		return http_reply_error(srv, c, r, method, url, &r->refused, r->user_id, NULL);
	return dispatch(srv, c, r, url, method);
}

/*
 * After a refusal sent with the headers, MHD closes the connection with the
 * body unread. A client that sends its body without waiting for an answer
 * (no Expect: 100-continue) may still be sending it, and closing a socket
 * with bytes unread makes the kernel send a reset, which can destroy the
 * response before the client reads it (RFC 9112, 9.6: the client then sees
 * a broken connection instead of its 413 or 401). So, as Apache and nginx
 * do, the connection's thread reads and drops what comes until the client
 * closes, up to limit bytes (what an accepted body costs) or LINGER_MS.
 * MHD calls on_completed with the socket still open, before its own
 * shutdown and close (MHD_connection_close_ in 0.9.75).
 */
static void linger(struct MHD_Connection *c, size_t limit)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (!ci)
		return;
	/* The response is out: the client may stop reading at our end of stream. */
	shutdown(ci->connect_fd, SHUT_WR);
	char buf[16384];
	double end = time_mono_ms() + LINGER_MS;
	for (size_t got = 0; got <= limit;) {
		double left = end - time_mono_ms();
		struct pollfd p = {.fd = ci->connect_fd, .events = POLLIN};
		if (left <= 0 || poll(&p, 1, (int)left + 1) <= 0)
			return;
		ssize_t n = recv(ci->connect_fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return;
		got += n > 0 ? (size_t)n : 0;
	}
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	struct http_server *srv = cls;
	struct request *r = *con_cls;
	if (!r)
		return;
	bool unread = r->body_unread && toe == MHD_REQUEST_TERMINATED_COMPLETED_OK;
	size_t limit = r->limit;
	if (r->in_flight) {
		atomic_fetch_sub(&srv->in_flight, 1);
		metrics_in_flight(-1);
	}
	atomic_fetch_sub(&srv->buffered, r->reserved);
	buf_free(&r->body);
	free(r);
	*con_cls = NULL;
	/* Last: the request no longer counts as in flight or holds buffer budget. */
	if (unread && !atomic_load(&srv->stopping))
		linger(c, limit);
}

/*
 * MHD's own %XX decoding, except that a decoded NUL becomes DEL: a C string
 * would end at the NUL ("/notes/1%00" read as "/notes/1"), while DEL is
 * refused by every id, tag and text check.
 */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	size_t n = MHD_http_unescape(s);
	for (size_t i = 0; i < n; i++)
		if (s[i] == '\0')
			s[i] = '\x7f';
	return n;
}

static void on_mhd_error(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	/* MHD may quote what the client sent, and vsnprintf may cut a character in two. */
	log_emit(LOG_WARNING, "http_error",
	         http_not_null(json_pack("{s:o}", "message", http_str(msg))));
}

enum verr http_server_start(const struct config *cfg, struct svc *svc, struct http_server **out,
                            struct verror *err)
{
	struct addrinfo hints = {
	    .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
	struct addrinfo *ai = NULL;
	char port[8];
	snprintf(port, sizeof(port), "%d", cfg->port);
	int gai = getaddrinfo(cfg->host, port, &hints, &ai);
	if (gai != 0)
		return verr_set(err, VERR_INVALID, "HOST: cannot resolve \"%s\": %s", cfg->host,
		                gai_strerror(gai));

	struct http_server *srv = xcalloc(1, sizeof(*srv));
	srv->cfg = cfg;
	srv->svc = svc;
	srv->public_rl =
	    ratelimit_new(cfg->auth_rate_per_minute, cfg->auth_rate_per_minute, RATELIMIT_KEYS);
	pthread_mutex_init(&srv->peers_mu, NULL);
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
	                 MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	srv->daemon = MHD_start_daemon(
	    flags, 0, accept_peer, srv, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_error,
	    NULL, MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->idle_timeout_seconds,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS, MHD_OPTION_NOTIFY_CONNECTION,
	    connection_event, srv, MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL, MHD_OPTION_END);
	freeaddrinfo(ai);
	if (!srv->daemon) {
		ratelimit_free(srv->public_rl);
		pthread_mutex_destroy(&srv->peers_mu);
		free(srv);
		return verr_set(err, VERR_UNAVAILABLE, "cannot listen on %s:%d (address in use?)",
		                cfg->host, cfg->port);
	}
	const union MHD_DaemonInfo *info =
	    MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
	srv->port = info ? info->port : cfg->port;
	*out = srv;
	return VERR_OK;
}

int http_server_port(const struct http_server *s)
{
	return s->port;
}

void http_server_stop(struct http_server *s, int grace_ms)
{
	if (!s)
		return;
	atomic_store(&s->stopping, true);
	MHD_socket fd = MHD_quiesce_daemon(s->daemon);
	double deadline = time_mono_ms() + grace_ms;
	while ((atomic_load(&s->in_flight) > 0 || atomic_load(&s->streams) > 0) &&
	       time_mono_ms() < deadline)
		usleep(10000);
	atomic_store(&s->closing, true);
	int left = atomic_load(&s->in_flight);
	if (left > 0)
		log_emit(LOG_WARNING, "shutdown_grace_expired",
		         json_pack("{s:i}", "in_flight", left));
	MHD_stop_daemon(s->daemon);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
	/* Readers are gone now, so producers stop at their next event. */
	while (atomic_load(&s->streams) > 0)
		usleep(10000);
	ratelimit_free(s->public_rl);
	pthread_mutex_destroy(&s->peers_mu);
	free(s);
}
