/*
 * test_http.c - protocol-level behaviour common to every route: 404/405 with
 * Allow, X-Request-ID, security headers, CORS and preflight, health and
 * readiness, idle connections being closed, and 5xx answers that keep
 * their internals to the log.
 */
#include "integration/harness.h"

#include <string.h>
#include <unistd.h>

static struct server srv;

static void cleanup(void)
{
	server_cleanup(&srv);
}

TestSuite(http, .fini = cleanup, .timeout = IT_TIMEOUT(60));

static bool is_hex32(const char *s)
{
	if (!s || strlen(s) != 32)
		return false;
	for (; *s; s++)
		if (!strchr("0123456789abcdefABCDEF", *s))
			return false;
	return true;
}

Test(http, health_and_ready)
{
	server_start(&srv, NULL);
	struct http_resp r;
	http(&srv, "GET", "/health", NULL, NULL, &r);
	cr_assert_eq(r.status, 200, "GET /health: %d %s", r.status, r.body);
	cr_assert_str_eq(resp_str(&r, "status") ? resp_str(&r, "status") : "(none)", "ok",
	                 "GET /health body: %s", r.body);
	cr_assert(it_contains(http_header(&r, "Content-Type"), "application/json", true),
	          "GET /health Content-Type: %s", http_header(&r, "Content-Type"));
	http_resp_free(&r);

	http(&srv, "GET", "/ready", NULL, NULL, &r);
	cr_assert_eq(r.status, 200, "GET /ready: %d %s", r.status, r.body);
	cr_assert_str_eq(resp_str(&r, "status") ? resp_str(&r, "status") : "(none)", "ready",
	                 "GET /ready body: %s", r.body);
	http_resp_free(&r);
	server_stop_ok(&srv);
}

Test(http, unknown_route_is_404_json)
{
	server_start(&srv, NULL);
	struct it_user u;
	user_new(&srv, &u);
	static const char *const paths[] = {
	    "/nope", "/api/v1/nope", "/api/v2/notes", "/api/v1/notes/1/extra", "/healthz", NULL};
	for (int i = 0; paths[i]; i++) {
		struct http_resp r;
		api(&srv, "GET", paths[i], u.access, NULL, &r);
		cr_expect_eq(r.status, 404, "GET %s: status %d, expected 404", paths[i], r.status);
		if (r.status == 404)
			assert_error_body(&r, paths[i]);
		http_resp_free(&r);
	}
	/* Unauthenticated too, outside /api. */
	struct http_resp r;
	http(&srv, "GET", "/does-not-exist", NULL, NULL, &r);
	cr_assert_eq(r.status, 404, "GET /does-not-exist: %d", r.status);
	assert_error_body(&r, "404");
	http_resp_free(&r);
	user_free(&u);
	server_stop_ok(&srv);
}

struct method_case {
	const char *method;
	const char *path;
	const char *allow[4]; /* methods the Allow header must list */
};

Test(http, wrong_method_is_405_with_allow)
{
	server_start(&srv, NULL);
	struct it_user u;
	user_new(&srv, &u);
	long long id = note_create(&srv, u.access, "{\"title\":\"t\"}");
	char note_path[64];
	snprintf(note_path, sizeof(note_path), "/api/v1/notes/%lld", id);
	const struct method_case cases[] = {
	    {"PATCH", note_path, {"GET", "PUT", "DELETE"}},
	    {"POST", note_path, {"GET", "PUT", "DELETE"}},
	    {"PUT", "/api/v1/notes", {"GET", "POST"}},
	    {"DELETE", "/api/v1/notes", {"GET", "POST"}},
	    {"GET", "/api/v1/auth/login", {"POST"}},
	    {"GET", "/api/v1/auth/register", {"POST"}},
	    {"PUT", "/api/v1/auth/me", {"GET", "DELETE"}},
	    {"POST", "/health", {"GET"}},
	    {"DELETE", "/ready", {"GET"}},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct method_case *c = &cases[i];
		struct http_resp r;
		api(&srv, c->method, c->path, u.access, NULL, &r);
		cr_expect_eq(r.status, 405, "%s %s: status %d, expected 405 (%s)", c->method,
		             c->path, r.status, r.body);
		const char *allow = http_header(&r, "Allow");
		cr_expect(allow != NULL, "%s %s: no Allow header", c->method, c->path);
		for (int k = 0; allow && c->allow[k]; k++)
			cr_expect(http_header_has_token(&r, "Allow", c->allow[k]),
			          "%s %s: Allow \"%s\" lacks %s", c->method, c->path, allow,
			          c->allow[k]);
		if (allow)
			cr_expect(!http_header_has_token(&r, "Allow", c->method),
			          "%s %s: Allow \"%s\" lists the refused method", c->method,
			          c->path, allow);
		if (r.status == 405)
			assert_error_body(&r, c->path);
		http_resp_free(&r);
	}
	/* The note was not touched by the refused methods. */
	struct http_resp r;
	cr_assert_eq(note_get(&srv, u.access, id, &r), 200);
	http_resp_free(&r);
	user_free(&u);
	server_stop_ok(&srv);
}

Test(http, request_id_echoed_or_generated)
{
	server_start(&srv, NULL);
	char *max = it_repeat("a", 128);
	char *too_long = it_repeat("b", 129);
	struct {
		const char *sent;
		bool echoed;
	} cases[] = {
	    {"abc-123_X.y", true},  {"0", true},         {max, true},
	    {too_long, false},      {"bad id", false},   {"semi;colon", false},
	    {"caf\xc3\xa9", false}, {"<script>", false}, {"a/b", false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *hdr = it_asprintf("X-Request-ID: %s", cases[i].sent);
		const char *const headers[] = {hdr, NULL};
		struct http_resp r;
		http(&srv, "GET", i % 2 ? "/health" : "/nope", headers, NULL, &r);
		const char *got = http_header(&r, "X-Request-ID");
		cr_expect(got != NULL, "X-Request-ID %.40s: response has none", cases[i].sent);
		if (got && cases[i].echoed)
			cr_expect_str_eq(got, cases[i].sent, "valid X-Request-ID not echoed");
		if (got && !cases[i].echoed)
			cr_expect(is_hex32(got) && strcmp(got, cases[i].sent) != 0,
			          "invalid X-Request-ID \"%.40s\" answered with \"%.60s\", "
			          "expected a generated 32-hex id",
			          cases[i].sent, got);
		http_resp_free(&r);
		free(hdr);
	}
	/* Without one: generated, different each time, also on errors. */
	struct http_resp a, b, c;
	http(&srv, "GET", "/health", NULL, NULL, &a);
	http(&srv, "GET", "/health", NULL, NULL, &b);
	http(&srv, "GET", "/api/v1/auth/me", NULL, NULL, &c);
	const char *ia = http_header(&a, "X-Request-ID"), *ib = http_header(&b, "X-Request-ID"),
	           *ic = http_header(&c, "X-Request-ID");
	cr_assert(is_hex32(ia), "generated X-Request-ID not 32 hex: %s", ia);
	cr_assert(is_hex32(ib), "generated X-Request-ID not 32 hex: %s", ib);
	cr_assert(is_hex32(ic), "401 response X-Request-ID not 32 hex: %s", ic);
	cr_assert_str_neq(ia, ib, "two requests got the same generated X-Request-ID");
	http_resp_free(&a);
	http_resp_free(&b);
	http_resp_free(&c);
	free(max);
	free(too_long);
	server_stop_ok(&srv);
}

static void expect_security_headers(const struct http_resp *r, const char *what, bool is_api)
{
	const char *v;
	v = http_header(r, "X-Content-Type-Options");
	cr_expect(v && strcasecmp(v, "nosniff") == 0, "%s: X-Content-Type-Options %s", what, v);
	v = http_header(r, "X-Frame-Options");
	cr_expect(v && strcasecmp(v, "DENY") == 0, "%s: X-Frame-Options %s", what, v);
	v = http_header(r, "Referrer-Policy");
	cr_expect(v && strcasecmp(v, "no-referrer") == 0, "%s: Referrer-Policy %s", what, v);
	cr_expect(http_header(r, "X-Request-ID") != NULL, "%s: no X-Request-ID", what);
	if (is_api) {
		v = http_header(r, "Content-Security-Policy");
		cr_expect(v && strstr(v, "default-src 'none'"),
		          "%s: Content-Security-Policy \"%s\" lacks default-src 'none'", what, v);
		cr_expect(http_header_has_token(r, "Cache-Control", "no-store"),
		          "%s: Cache-Control \"%s\" lacks no-store", what,
		          http_header(r, "Cache-Control"));
	}
}

Test(http, security_headers_on_every_response)
{
	server_start(&srv, NULL);
	struct it_user u;
	user_new(&srv, &u);
	struct {
		const char *method, *path, *body;
		bool auth, is_api;
		int status;
	} cases[] = {
	    {"GET", "/api/v1/auth/me", NULL, true, true, 200},
	    {"GET", "/api/v1/notes", NULL, true, true, 200},
	    {"POST", "/api/v1/notes", "{\"title\":\"x\"}", true, true, 201},
	    {"GET", "/api/v1/notes", NULL, false, true, 401},
	    {"GET", "/api/v1/notes/999999", NULL, true, true, 404},
	    {"PATCH", "/api/v1/notes", NULL, true, true, 405},
	    {"POST", "/api/v1/notes", "{\"title\":5}", true, true, 422},
	    {"POST", "/api/v1/auth/login", "{\"email\":\"no@x.io\",\"password\":\"whatever1\"}",
	     false, true, 401},
	    {"GET", "/health", NULL, false, false, 200},
	    {"GET", "/ready", NULL, false, false, 200},
	    {"GET", "/nope", NULL, false, false, 404},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct http_resp r;
		api(&srv, cases[i].method, cases[i].path, cases[i].auth ? u.access : NULL,
		    cases[i].body, &r);
		char *what = it_asprintf("%s %s (%d)", cases[i].method, cases[i].path, r.status);
		cr_expect_eq(r.status, cases[i].status, "%s: expected %d", what, cases[i].status);
		expect_security_headers(&r, what, cases[i].is_api);
		free(what);
		http_resp_free(&r);
	}
	/* Refusals made before any route runs carry them too. */
	const char *const text[] = {"Content-Type: text/plain", NULL};
	struct http_req q415 = {.method = "POST",
	                        .path = "/api/v1/notes",
	                        .headers = text,
	                        .token = u.access,
	                        .body = "{\"title\":\"x\"}",
	                        .body_len = 13};
	struct http_resp r;
	http_req(&srv, &q415, &r);
	cr_expect_eq(r.status, 415, "text/plain body: %d", r.status);
	expect_security_headers(&r, "415 response", true);
	http_resp_free(&r);
	char *big = it_repeat(" ", 2097152 + 10);
	struct http_req q413 = {.method = "POST",
	                        .path = "/api/v1/notes",
	                        .token = u.access,
	                        .body = big,
	                        .body_len = strlen(big)};
	http_req(&srv, &q413, &r);
	cr_expect_eq(r.status, 413, "2 MiB + 10 body: %d", r.status);
	expect_security_headers(&r, "413 response", true);
	http_resp_free(&r);
	free(big);
	user_free(&u);
	server_stop_ok(&srv);
}

static const char *const cors_env[] = {
    "ALLOWED_ORIGINS=https://app.example.com,https://admin.example.org", NULL};

Test(http, cors_simple_requests)
{
	server_start(&srv, cors_env);
	struct it_user u;
	user_new(&srv, &u);
	static const char *const allowed[] = {"https://app.example.com",
	                                      "https://admin.example.org"};
	for (int i = 0; i < 2; i++) {
		char *origin = it_asprintf("Origin: %s", allowed[i]);
		const char *const headers[] = {origin, NULL};
		struct http_req q = {.method = "GET",
		                     .path = i ? "/health" : "/api/v1/notes",
		                     .headers = headers,
		                     .token = u.access};
		struct http_resp r;
		http_req(&srv, &q, &r);
		cr_expect_eq(r.status, 200, "%s with %s: %d", q.path, origin, r.status);
		const char *acao = http_header(&r, "Access-Control-Allow-Origin");
		cr_expect(acao && strcmp(acao, allowed[i]) == 0,
		          "%s: Access-Control-Allow-Origin \"%s\", expected %s", q.path, acao,
		          allowed[i]);
		cr_expect(http_header_has_token(&r, "Vary", "Origin"),
		          "%s: Vary \"%s\" lacks Origin", q.path, http_header(&r, "Vary"));
		http_resp_free(&r);
		free(origin);
	}
	/* Error answers to an allowed origin carry it as well, so the browser can read them. */
	static const char *const err_paths[] = {"/api/v1/notes", "/nope", NULL};
	for (int i = 0; err_paths[i]; i++) {
		const char *const headers[] = {"Origin: https://app.example.com", NULL};
		struct http_resp r;
		http(&srv, "GET", err_paths[i], headers, NULL, &r);
		cr_expect(r.status == 401 || r.status == 404, "GET %s: %d", err_paths[i], r.status);
		const char *acao = http_header(&r, "Access-Control-Allow-Origin");
		cr_expect(acao && strcmp(acao, "https://app.example.com") == 0,
		          "%d answer to an allowed origin: Access-Control-Allow-Origin %s",
		          r.status, acao ? acao : "(none)");
		http_resp_free(&r);
	}
	/* Disallowed origins (including near misses) and no Origin get no ACAO. */
	static const char *const refused[] = {
	    "Origin: https://evil.example.com", "Origin: https://app.example.com.evil.io",
	    "Origin: http://app.example.com", "Origin: null", NULL};
	for (int i = 0; refused[i]; i++) {
		const char *const headers[] = {refused[i], NULL};
		struct http_req q = {.method = "GET",
		                     .path = "/api/v1/notes",
		                     .headers = headers,
		                     .token = u.access};
		struct http_resp r;
		http_req(&srv, &q, &r);
		cr_expect_eq(r.status, 200, "GET with %s: %d", refused[i], r.status);
		cr_expect(http_header(&r, "Access-Control-Allow-Origin") == NULL,
		          "%s got Access-Control-Allow-Origin: %s", refused[i],
		          http_header(&r, "Access-Control-Allow-Origin"));
		http_resp_free(&r);
	}
	struct http_resp r;
	api(&srv, "GET", "/api/v1/notes", u.access, NULL, &r);
	cr_expect(http_header(&r, "Access-Control-Allow-Origin") == NULL,
	          "request without Origin got Access-Control-Allow-Origin: %s",
	          http_header(&r, "Access-Control-Allow-Origin"));
	http_resp_free(&r);
	user_free(&u);
	server_stop_ok(&srv);
}

Test(http, cors_preflight)
{
	server_start(&srv, cors_env);
	const char *const ok_headers[] = {
	    "Origin: https://app.example.com", "Access-Control-Request-Method: POST",
	    "Access-Control-Request-Headers: authorization, content-type", NULL};
	static const char *const paths[] = {"/api/v1/notes", "/api/v1/notes/1",
	                                    "/api/v1/auth/login", NULL};
	for (int i = 0; paths[i]; i++) {
		struct http_resp r;
		http(&srv, "OPTIONS", paths[i], ok_headers, NULL, &r);
		cr_expect_eq(r.status, 204, "preflight %s from allowed origin: %d %s", paths[i],
		             r.status, r.body);
		const char *acao = http_header(&r, "Access-Control-Allow-Origin");
		cr_expect(acao && strcmp(acao, "https://app.example.com") == 0,
		          "preflight %s: Access-Control-Allow-Origin %s", paths[i], acao);
		cr_expect(http_header(&r, "Access-Control-Allow-Methods") != NULL,
		          "preflight %s: no Access-Control-Allow-Methods", paths[i]);
		if (i == 0)
			cr_expect(http_header_has_token(&r, "Access-Control-Allow-Methods", "POST"),
			          "preflight %s: Access-Control-Allow-Methods \"%s\" lacks POST",
			          paths[i], http_header(&r, "Access-Control-Allow-Methods"));
		cr_expect(
		    http_header_has_token(&r, "Access-Control-Allow-Headers", "Authorization"),
		    "preflight %s: Access-Control-Allow-Headers \"%s\" lacks Authorization",
		    paths[i], http_header(&r, "Access-Control-Allow-Headers"));
		cr_expect(http_header_has_token(&r, "Access-Control-Allow-Headers", "Content-Type"),
		          "preflight %s: Access-Control-Allow-Headers \"%s\" lacks Content-Type",
		          paths[i], http_header(&r, "Access-Control-Allow-Headers"));
		http_resp_free(&r);
	}
	const char *const bad_headers[] = {"Origin: https://evil.example.com",
	                                   "Access-Control-Request-Method: POST",
	                                   "Access-Control-Request-Headers: authorization", NULL};
	struct http_resp r;
	http(&srv, "OPTIONS", "/api/v1/notes", bad_headers, NULL, &r);
	cr_assert_eq(r.status, 403, "preflight from a disallowed origin: %d, expected 403",
	             r.status);
	cr_assert(http_header(&r, "Access-Control-Allow-Origin") == NULL,
	          "refused preflight carries Access-Control-Allow-Origin: %s",
	          http_header(&r, "Access-Control-Allow-Origin"));
	cr_assert(http_header(&r, "X-Request-ID") != NULL, "refused preflight has no X-Request-ID");
	http_resp_free(&r);
	http(&srv, "OPTIONS", "/api/v1/notes", ok_headers, NULL, &r);
	cr_assert(http_header(&r, "X-Request-ID") != NULL, "preflight has no X-Request-ID");
	http_resp_free(&r);
	server_stop_ok(&srv);
}

Test(http, cors_without_allowed_origins_refuses_everyone)
{
	server_start(&srv, NULL);
	const char *const headers[] = {"Origin: https://app.example.com",
	                               "Access-Control-Request-Method: GET", NULL};
	struct http_resp r;
	http(&srv, "GET", "/health", headers, NULL, &r);
	cr_assert_eq(r.status, 200);
	cr_assert(http_header(&r, "Access-Control-Allow-Origin") == NULL,
	          "no ALLOWED_ORIGINS, yet Access-Control-Allow-Origin: %s",
	          http_header(&r, "Access-Control-Allow-Origin"));
	http_resp_free(&r);
	http(&srv, "OPTIONS", "/api/v1/notes", headers, NULL, &r);
	cr_assert_eq(r.status, 403, "preflight with no ALLOWED_ORIGINS: %d, expected 403",
	             r.status);
	http_resp_free(&r);
	server_stop_ok(&srv);
}

static const char *const idle_env[] = {"IDLE_TIMEOUT_SECONDS=1", NULL};

Test(http, idle_connection_is_closed)
{
	server_start(&srv, idle_env);
	/* Silent client. */
	int fd = tcp_connect(&srv);
	cr_assert(fd >= 0, "connect failed");
	double t0 = it_now_ms();
	bool closed = tcp_wait_closed(fd, 6000);
	double took = it_now_ms() - t0;
	close(fd);
	cr_assert(closed,
	          "a silent connection was still open after %.0f ms (IDLE_TIMEOUT_SECONDS=1)",
	          took);

	/* A client that stops in the middle of its headers (slowloris). */
	fd = tcp_connect(&srv);
	cr_assert(fd >= 0);
	const char partial[] = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n";
	tcp_send_all(fd, partial, sizeof(partial) - 1);
	t0 = it_now_ms();
	closed = tcp_wait_closed(fd, 6000);
	took = it_now_ms() - t0;
	close(fd);
	cr_assert(closed, "a half-sent request was still open after %.0f ms", took);

	/* A keep-alive connection after one answered request. */
	fd = tcp_connect(&srv);
	cr_assert(fd >= 0);
	const char full[] = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
	tcp_send_all(fd, full, sizeof(full) - 1);
	char buf[4096];
	int code = tcp_read_head(fd, buf, sizeof(buf), 2000, &closed);
	cr_assert_eq(code, 200, "keep-alive request: %.100s", buf);
	closed = closed || tcp_wait_closed(fd, 6000);
	close(fd);
	cr_assert(closed, "an idle keep-alive connection was not closed");

	/* The server still serves. */
	struct http_resp r;
	cr_assert_eq(http(&srv, "GET", "/health", NULL, NULL, &r), 200);
	http_resp_free(&r);
	server_stop_ok(&srv);
}

Test(http, garbage_request_line_does_not_kill_server)
{
	server_start(&srv, NULL);
	static const char *const junk[] = {
	    "\x16\x03\x01\x02\x01\x01\x01\x01\xfc\x03\x03 not tls\r\n\r\n",
	    "GET\r\n\r\n",
	    "GET /health HTTP/9.9\r\n\r\n",
	    "GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
	    "GET /health HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n",
	    NULL,
	};
	for (int i = 0; junk[i]; i++) {
		int fd = tcp_connect(&srv);
		cr_assert(fd >= 0);
		tcp_send_all(fd, junk[i], strlen(junk[i]));
		char buf[2048];
		bool closed;
		int code = tcp_read_head(fd, buf, sizeof(buf), 3000, &closed);
		close(fd);
		cr_expect(code != 500, "junk request %d answered 500: %.100s", i, buf);
		cr_expect(code != 0 || closed, "junk request %d: no answer and no close in 3 s", i);
	}
	/* Oversized request line and header: refused or closed, never a 500 or a crash. */
	char *long_path = it_repeat("a", 100000);
	char *huge_line = it_asprintf("GET /health?x=%s HTTP/1.1\r\nHost: x\r\n\r\n", long_path);
	char *huge_header =
	    it_asprintf("GET /health HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n", long_path);
	const char *big[] = {huge_line, huge_header};
	for (int i = 0; i < 2; i++) {
		int fd = tcp_connect(&srv);
		cr_assert(fd >= 0);
		tcp_send_all(fd, big[i], strlen(big[i]));
		char buf[2048];
		bool closed;
		int code = tcp_read_head(fd, buf, sizeof(buf), 3000, &closed);
		close(fd);
		cr_expect(code != 500, "100 kB %s answered 500", i ? "header" : "URL");
		cr_expect(code != 0 || closed, "100 kB %s: no answer and no close in 3 s",
		          i ? "header" : "URL");
	}
	free(long_path);
	free(huge_line);
	free(huge_header);
	struct http_resp r;
	cr_assert_eq(http(&srv, "GET", "/health", NULL, NULL, &r), 200);
	http_resp_free(&r);
	server_stop_ok(&srv);
}

/* The "request" line of request id rid in the server log (incref'd), or NULL. */
static json_t *find_request_line(const char *rid)
{
	char *log = server_log(&srv), *save = NULL;
	json_t *found = NULL;
	for (char *line = strtok_r(log, "\n", &save); line && !found;
	     line = strtok_r(NULL, "\n", &save)) {
		json_t *j = json_loads(line, 0, NULL);
		const char *ev = json_string_value(json_object_get(j, "event"));
		const char *id = json_string_value(json_object_get(j, "request_id"));
		if (ev && strcmp(ev, "request") == 0 && id && strcmp(id, rid) == 0)
			found = json_incref(j);
		json_decref(j);
	}
	free(log);
	return found;
}

Test(http, database_error_detail_stays_in_the_log)
{
	server_start(&srv, (const char *const[]){"DB_STATEMENT_TIMEOUT_SECONDS=1", NULL});
	struct it_user u;
	user_new(&srv, &u);
	/* Another process holds the write lock: the write waits out its busy
	 * timeout (SQLite, 5 s) or statement timeout (PostgreSQL, 1 s). */
	struct it_db_lock *lock = it_db_lock(&srv);
	const char *const headers[] = {"X-Request-ID: rid-db-busy", NULL};
	struct http_req q = {.method = "POST",
	                     .path = "/api/v1/notes",
	                     .headers = headers,
	                     .token = u.access,
	                     .body = "{\"title\":\"t\"}",
	                     .body_len = 13};
	struct http_resp r;
	http_req(&srv, &q, &r);
	it_db_unlock(lock);
	cr_assert_eq(r.status, 503, "write against a locked database: %d %s", r.status, r.body);
	assert_error_body(&r, "503");
	cr_assert_str_eq(resp_str(&r, "detail"), "Service unavailable",
	                 "a database 503 shows its internals: %s", r.body);
	http_resp_free(&r);
	server_stop_ok(&srv);
	json_t *line = find_request_line("rid-db-busy");
	cr_assert(line, "no request line for the 503");
	const char *logged = json_string_value(json_object_get(line, "error"));
	cr_assert(logged && strcmp(logged, "Service unavailable") != 0,
	          "the log line lacks the internal detail: %s", logged);
	json_decref(line);
	user_free(&u);
}
