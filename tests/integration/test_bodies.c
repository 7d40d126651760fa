/*
 * test_bodies.c - hostile and broken request bodies: truncated or malformed
 * JSON, non-objects, wrong field types, raw invalid UTF-8, wrong or missing
 * Content-Type, empty bodies, and bodies over MAX_BODY_BYTES (sent, or only
 * announced by Content-Length, or chunked); endless and trickling bodies,
 * which are cut off. Never a 500, a hang or a crash: every test ends with a
 * clean SIGTERM exit.
 */
#include "integration/harness.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static struct server srv;
static struct it_user me;

static void cleanup(void)
{
	user_free(&me);
	server_cleanup(&srv);
}

TestSuite(bodies, .fini = cleanup, .timeout = IT_TIMEOUT(60));

static void setup(const char *const *env)
{
	server_start(&srv, env);
	user_new(&srv, &me);
}

/* Sends body (len bytes) with headers to path as the test user, unless anon. */
static int send_raw(const char *method, const char *path, const char *const *headers,
                    const char *body, size_t len, bool anon, struct http_resp *r)
{
	struct http_req q = {.method = method,
	                     .path = path,
	                     .headers = headers,
	                     .token = anon ? NULL : me.access,
	                     .body = body,
	                     .body_len = len};
	return http_req(&srv, &q, r);
}

/* Expects one of two statuses (b may equal a) and a JSON error body. */
static void expect_status(const struct http_resp *r, int a, int b, const char *what)
{
	if (a == b)
		cr_expect_eq(r->status, a, "%s: status %d, expected %d", what, r->status, a);
	else
		cr_expect(r->status == a || r->status == b, "%s: status %d, expected %d or %d",
		          what, r->status, a, b);
	if (r->status >= 400 && r->status != 500)
		assert_error_body(r, what);
}

static int note_total(void)
{
	struct http_resp r;
	api(&srv, "GET", "/api/v1/notes", me.access, NULL, &r);
	int total = (int)json_integer_value(json_object_get(r.json, "total"));
	http_resp_free(&r);
	return total;
}

struct target {
	const char *method, *path;
	bool anon;
};

static const struct target targets[] = {
    {"POST", "/api/v1/auth/register", true},
    {"POST", "/api/v1/auth/login", true},
    {"POST", "/api/v1/auth/refresh", true},
    {"POST", "/api/v1/notes", false},
    {"PUT", NULL, false}, /* the user's note, filled in by put_path() */
};

static char put_path_buf[64];

static const char *target_path(const struct target *t)
{
	return t->path ? t->path : put_path_buf;
}

static void make_put_target(void)
{
	long long id = note_create(&srv, me.access, "{\"title\":\"target\"}");
	snprintf(put_path_buf, sizeof(put_path_buf), "/api/v1/notes/%lld", id);
}

Test(bodies, malformed_json)
{
	setup(NULL);
	make_put_target();
	static const char *const bad[] = {
	    "{\"email\": \"a@b.io\", \"pass",
	    "{\"title\": \"t\"",
	    "{",
	    "not json",
	    "{'title': 't'}",
	    "{\"title\": \"t\",}",
	    "{\"title\" \"t\"}",
	    "{\"title\": \"unterminated}",
	    "{\"title\": \"\\ud800\"}",
	    "{\"title\": \"\\x41\"}",
	    "{\"title\": \"t\"} trailing",
	    "{\"title\": \"t\"}{\"title\": \"u\"}",
	    "{\"title\": NaN}",
	    NULL,
	};
	for (size_t t = 0; t < sizeof(targets) / sizeof(targets[0]); t++) {
		for (int i = 0; bad[i]; i++) {
			struct http_resp r;
			send_raw(targets[t].method, target_path(&targets[t]), NULL, bad[i],
			         strlen(bad[i]), targets[t].anon, &r);
			char *what = it_asprintf("%s %s <%s>", targets[t].method,
			                         target_path(&targets[t]), bad[i]);
			expect_status(&r, 422, 400, what);
			free(what);
			http_resp_free(&r);
		}
	}
	cr_assert_eq(note_total(), 1, "a malformed body created a note");
	server_stop_ok(&srv);
}

Test(bodies, deeply_nested_json)
{
	setup(NULL);
	size_t depth = 100000;
	char *open = it_repeat("[", depth), *close_ = it_repeat("]", depth);
	char *body = it_asprintf("{\"title\":\"t\",\"email\":%s%s}", open, close_);
	free(open);
	free(close_);
	for (size_t t = 0; t < sizeof(targets) / sizeof(targets[0]); t++) {
		if (!targets[t].path)
			continue;
		struct http_resp r;
		send_raw(targets[t].method, targets[t].path, NULL, body, strlen(body),
		         targets[t].anon, &r);
		char *what = it_asprintf("%s %s with %zu nested arrays", targets[t].method,
		                         targets[t].path, depth);
		/* The unauthenticated routes take small bodies: this one is refused unread. */
		if (targets[t].anon)
			expect_status(&r, 413, 413, what);
		else
			expect_status(&r, 422, 400, what);
		free(what);
		http_resp_free(&r);
	}
	free(body);
	server_stop_ok(&srv);
}

Test(bodies, json_that_is_not_an_object)
{
	setup(NULL);
	make_put_target();
	static const char *const bad[] = {
	    "[]", "[{\"title\":\"t\"}]", "\"title\"", "42", "null", "true", NULL};
	for (size_t t = 0; t < sizeof(targets) / sizeof(targets[0]); t++) {
		for (int i = 0; bad[i]; i++) {
			struct http_resp r;
			send_raw(targets[t].method, target_path(&targets[t]), NULL, bad[i],
			         strlen(bad[i]), targets[t].anon, &r);
			char *what = it_asprintf("%s %s <%s>", targets[t].method,
			                         target_path(&targets[t]), bad[i]);
			expect_status(&r, 422, 422, what);
			free(what);
			http_resp_free(&r);
		}
	}
	server_stop_ok(&srv);
}

Test(bodies, wrong_field_types_name_the_field)
{
	setup(NULL);
	make_put_target();
	struct {
		const char *method, *path, *body, *field;
		bool anon;
	} cases[] = {
	    {"POST", "/api/v1/auth/register", "{\"email\":5,\"password\":\"password123\"}", "email",
	     true},
	    {"POST", "/api/v1/auth/register", "{\"email\":\"x@y.io\",\"password\":12345678}",
	     "password", true},
	    {"POST", "/api/v1/auth/register", "{\"email\":[\"x@y.io\"],\"password\":\"pw123456\"}",
	     "email", true},
	    {"POST", "/api/v1/auth/login", "{\"email\":\"x@y.io\",\"password\":true}", "password",
	     true},
	    {"POST", "/api/v1/auth/refresh", "{\"refresh_token\":{}}", "refresh_token", true},
	    {"POST", "/api/v1/notes", "{\"title\":5}", "title", false},
	    {"POST", "/api/v1/notes", "{\"title\":\"t\",\"tags\":\"x\"}", "tags", false},
	    {"POST", "/api/v1/notes", "{\"title\":\"t\",\"tags\":[1]}", "tags", false},
	    {"POST", "/api/v1/notes", "{\"title\":\"t\",\"content\":1.5}", "content", false},
	    {"PUT", NULL, "{\"title\":{}}", "title", false},
	    {"PUT", NULL, "{\"tags\":[true]}", "tags", false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *path = cases[i].path ? cases[i].path : put_path_buf;
		struct http_resp r;
		send_raw(cases[i].method, path, NULL, cases[i].body, strlen(cases[i].body),
		         cases[i].anon, &r);
		char *what = it_asprintf("%s %s %s", cases[i].method, path, cases[i].body);
		expect_status(&r, 422, 422, what);
		const char *d = resp_str(&r, "detail");
		cr_expect(d && strstr(d, cases[i].field), "%s: detail \"%s\" does not name %s",
		          what, d, cases[i].field);
		free(what);
		http_resp_free(&r);
	}
	server_stop_ok(&srv);
}

Test(bodies, invalid_utf8_bytes)
{
	setup(NULL);
	make_put_target();
	/* Raw bytes inside JSON strings, not escapes. */
	static const char *const seqs[] = {
	    "\xff",             /* never valid */
	    "\xc3\x28",         /* bad continuation */
	    "\xc0\xaf",         /* overlong '/' */
	    "\xe0\x80\xaf",     /* overlong, 3 bytes */
	    "\xed\xa0\x80",     /* UTF-16 surrogate */
	    "\xf4\x90\x80\x80", /* above U+10FFFF */
	    "\xe2\x82",         /* truncated */
	    "\x80",             /* lone continuation */
	    NULL,
	};
	for (int i = 0; seqs[i]; i++) {
		char *reg =
		    it_asprintf("{\"email\":\"u%s@x.io\",\"password\":\"password123\"}", seqs[i]);
		char *login = it_asprintf("{\"email\":\"%s\",\"password\":\"pass%sword\"}",
		                          me.email, seqs[i]);
		char *title = it_asprintf("{\"title\":\"bad %s title\"}", seqs[i]);
		char *content = it_asprintf("{\"title\":\"t\",\"content\":\"x%sy\"}", seqs[i]);
		char *tag = it_asprintf("{\"title\":\"t\",\"tags\":[\"a%s\"]}", seqs[i]);
		char *key = it_asprintf("{\"title\":\"t\",\"ti%stle\":\"x\"}", seqs[i]);
		struct {
			const char *method, *path, *body;
			bool anon;
		} cases[] = {
		    {"POST", "/api/v1/auth/register", reg, true},
		    {"POST", "/api/v1/auth/login", login, true},
		    {"POST", "/api/v1/notes", title, false},
		    {"POST", "/api/v1/notes", content, false},
		    {"POST", "/api/v1/notes", tag, false},
		    {"POST", "/api/v1/notes", key, false},
		    {"PUT", put_path_buf, title, false},
		    {"PUT", put_path_buf, content, false},
		};
		for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
			struct http_resp r;
			send_raw(cases[c].method, cases[c].path, NULL, cases[c].body,
			         strlen(cases[c].body), cases[c].anon, &r);
			char *what = it_asprintf("%s %s with invalid UTF-8 #%d (%s)",
			                         cases[c].method, cases[c].path, i, cases[c].body);
			expect_status(&r, 422, 400, what);
			free(what);
			http_resp_free(&r);
		}
		free(reg);
		free(login);
		free(title);
		free(content);
		free(tag);
		free(key);
	}
	cr_assert_eq(note_total(), 1, "a note with invalid UTF-8 was stored");
	server_stop_ok(&srv);
}

Test(bodies, content_type_must_be_json)
{
	setup(NULL);
	make_put_target();
	const char *note = "{\"title\":\"t\"}";
	static const char *const bad[] = {
	    "Content-Type: text/plain",
	    "Content-Type: application/x-www-form-urlencoded",
	    "Content-Type: multipart/form-data; boundary=x",
	    "Content-Type: application/xml",
	    "Content-Type: application/jsonx",
	    "Content-Type: json",
	    "Content-Type:", /* none at all */
	    NULL,
	};
	for (size_t t = 0; t < sizeof(targets) / sizeof(targets[0]); t++) {
		const char *body = t == 0   ? "{\"email\":\"ct@x.io\",\"password\":\"password123\"}"
		                   : t == 1 ? "{\"email\":\"ct@x.io\",\"password\":\"password123\"}"
		                   : t == 2 ? "{\"refresh_token\":\"x\"}"
		                            : note;
		for (int i = 0; bad[i]; i++) {
			const char *const headers[] = {bad[i], NULL};
			struct http_resp r;
			send_raw(targets[t].method, target_path(&targets[t]), headers, body,
			         strlen(body), targets[t].anon, &r);
			char *what = it_asprintf("%s %s with \"%s\"", targets[t].method,
			                         target_path(&targets[t]), bad[i]);
			expect_status(&r, 415, 415, what);
			free(what);
			http_resp_free(&r);
		}
	}
	cr_assert_eq(note_total(), 1, "a note was created despite a wrong Content-Type");

	/* Parameters are fine. */
	static const char *const good[] = {"Content-Type: application/json; charset=utf-8",
	                                   "Content-Type: application/json;charset=UTF-8",
	                                   "Content-Type: application/json", NULL};
	for (int i = 0; good[i]; i++) {
		const char *const headers[] = {good[i], NULL};
		struct http_resp r;
		send_raw("POST", "/api/v1/notes", headers, note, strlen(note), false, &r);
		cr_expect_eq(r.status, 201, "POST with \"%s\": %d %s", good[i], r.status, r.body);
		http_resp_free(&r);
	}
	server_stop_ok(&srv);
}

Test(bodies, empty_body_where_required)
{
	setup(NULL);
	make_put_target();
	for (size_t t = 0; t < sizeof(targets) / sizeof(targets[0]); t++) {
		struct http_resp r;
		send_raw(targets[t].method, target_path(&targets[t]), NULL, "", 0, targets[t].anon,
		         &r);
		char *what = it_asprintf("%s %s with an empty JSON body", targets[t].method,
		                         target_path(&targets[t]));
		expect_status(&r, 422, 422, what);
		free(what);
		http_resp_free(&r);
		/* Only white space is empty too. */
		send_raw(targets[t].method, target_path(&targets[t]), NULL, "  \r\n ", 5,
		         targets[t].anon, &r);
		what = it_asprintf("%s %s with a blank body", targets[t].method,
		                   target_path(&targets[t]));
		expect_status(&r, 422, 400, what);
		free(what);
		http_resp_free(&r);
	}
	/* No body and no Content-Type at all. */
	struct http_resp r;
	send_raw("POST", "/api/v1/notes", NULL, NULL, 0, false, &r);
	cr_expect(r.status == 422 || r.status == 415, "POST /notes without a body: %d", r.status);
	http_resp_free(&r);
	send_raw("POST", "/api/v1/auth/register", NULL, NULL, 0, true, &r);
	cr_expect(r.status == 422 || r.status == 415, "register without a body: %d", r.status);
	http_resp_free(&r);
	cr_assert_eq(note_total(), 1);
	server_stop_ok(&srv);
}

static const char *const small_limit_env[] = {"MAX_BODY_BYTES=4096", NULL};

/* {"title":"t","content":"aaa..."} of exactly n bytes. */
static char *note_body_of_size(size_t n)
{
	const char *head = "{\"title\":\"t\",\"content\":\"", *tail = "\"}";
	size_t fixed = strlen(head) + strlen(tail);
	cr_assert(n >= fixed);
	char *pad = it_repeat("a", n - fixed);
	char *out = it_asprintf("%s%s%s", head, pad, tail);
	free(pad);
	cr_assert_eq(strlen(out), n);
	return out;
}

Test(bodies, over_max_body_bytes_is_413)
{
	setup(small_limit_env);
	char *at = note_body_of_size(4096), *over = note_body_of_size(4097),
	     *far = note_body_of_size(64 * 1024);
	struct http_resp r;
	send_raw("POST", "/api/v1/notes", NULL, at, strlen(at), false, &r);
	cr_expect_eq(r.status, 201, "body of exactly MAX_BODY_BYTES: %d %s", r.status, r.body);
	http_resp_free(&r);
	send_raw("POST", "/api/v1/notes", NULL, over, strlen(over), false, &r);
	expect_status(&r, 413, 413, "body of MAX_BODY_BYTES + 1");
	http_resp_free(&r);
	send_raw("POST", "/api/v1/notes", NULL, far, strlen(far), false, &r);
	expect_status(&r, 413, 413, "64 KiB body with a 4 KiB limit");
	http_resp_free(&r);
	char *reg = it_asprintf("{\"email\":\"big@x.io\",\"password\":\"%s\"}", far);
	send_raw("POST", "/api/v1/auth/register", NULL, reg, strlen(reg), true, &r);
	expect_status(&r, 413, 413, "huge register body");
	http_resp_free(&r);
	cr_assert_eq(note_total(), 1, "an oversized body created a note");
	/* The server still answers normally afterwards. */
	cr_assert_eq(http(&srv, "GET", "/health", NULL, NULL, &r), 200);
	http_resp_free(&r);
	free(at);
	free(over);
	free(far);
	free(reg);
	server_stop_ok(&srv);
}

Test(bodies, default_limit_is_two_mebibytes)
{
	setup(NULL);
	char *over = note_body_of_size(2097152 + 1);
	struct http_resp r;
	send_raw("POST", "/api/v1/notes", NULL, over, strlen(over), false, &r);
	expect_status(&r, 413, 413, "body of 2097153 bytes with the default limit");
	http_resp_free(&r);
	/* Just under the limit: parsed, then refused for its 1 MiB+ content (422, not 413). */
	char *under = note_body_of_size(2097152);
	send_raw("POST", "/api/v1/notes", NULL, under, strlen(under), false, &r);
	expect_status(&r, 422, 422, "2097152-byte body with 2 MB of content");
	http_resp_free(&r);
	free(over);
	free(under);
	server_stop_ok(&srv);
}

/* Sends a request head (and body) on a raw socket; returns the answer's status (0 if none). */
static int raw_status(const char *head, const char *body, size_t body_len, char *resp, size_t cap,
                      int timeout_ms)
{
	int fd = tcp_connect(&srv);
	cr_assert(fd >= 0, "connect failed");
	tcp_send_all(fd, head, strlen(head));
	if (body)
		tcp_send_all(fd, body, body_len);
	bool closed;
	int code = tcp_read_head(fd, resp, cap, timeout_ms, &closed);
	close(fd);
	return code;
}

Test(bodies, announced_oversize_is_413_without_sending_it)
{
	setup(small_limit_env);
	char resp[4096];
	char *head = it_asprintf("POST /api/v1/notes HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	                         "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
	                         "Content-Length: 100000000\r\n\r\n",
	                         me.access);
	double t0 = it_now_ms();
	int code = raw_status(head, "{\"title\":", 9, resp, sizeof(resp), 5000);
	double took = it_now_ms() - t0;
	cr_assert_eq(code, 413,
	             "Content-Length: 100000000 with a 4096 limit: got \"%.80s\" after "
	             "%.0f ms, expected 413 without reading the body",
	             resp, took);
	free(head);

	head = "POST /api/v1/auth/register HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	       "Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n";
	code = raw_status(head, NULL, 0, resp, sizeof(resp), 5000);
	cr_assert_eq(code, 413, "register announcing 5000 bytes: got \"%.80s\", expected 413",
	             resp);

	/* With Expect: 100-continue the server must refuse instead of inviting the body. */
	char *head2 = it_asprintf("POST /api/v1/notes HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	                          "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
	                          "Expect: 100-continue\r\nContent-Length: 100000000\r\n\r\n",
	                          me.access);
	code = raw_status(head2, NULL, 0, resp, sizeof(resp), 5000);
	cr_assert_eq(code, 413, "Expect: 100-continue with an oversized length: \"%.80s\"", resp);
	free(head2);
	server_stop_ok(&srv);
}

Test(bodies, chunked_oversize_is_413)
{
	setup(small_limit_env);
	char resp[4096];
	char *head = it_asprintf("POST /api/v1/notes HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	                         "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
	                         "Transfer-Encoding: chunked\r\n\r\n",
	                         me.access);
	/* 6000 bytes of JSON in 1000-byte chunks, no Content-Length. */
	char *json = note_body_of_size(6000);
	size_t cap = 7000 + 16 * 10;
	char *chunked = it_repeat(" ", cap);
	size_t len = 0;
	for (size_t off = 0; off < 6000; off += 1000)
		len += (size_t)snprintf(chunked + len, cap - len, "3e8\r\n%.1000s\r\n", json + off);
	len += (size_t)snprintf(chunked + len, cap - len, "0\r\n\r\n");
	int code = raw_status(head, chunked, len, resp, sizeof(resp), 5000);
	cr_assert_eq(code, 413, "6000-byte chunked body with a 4096 limit: \"%.80s\"", resp);
	cr_assert_eq(note_total(), 0, "the chunked oversized note was stored");
	free(head);
	free(json);
	free(chunked);
	server_stop_ok(&srv);
}

/* Whether the server log holds a "request_cut" line. */
static bool log_has_cut(void)
{
	char *log = server_log(&srv);
	bool found = strstr(log, "\"request_cut\"") != NULL;
	free(log);
	return found;
}

/* A raw connection whose sends give up after 1 s instead of blocking forever. */
static int connect_with_send_timeout(void)
{
	int fd = tcp_connect(&srv);
	cr_assert(fd >= 0, "connect failed");
	struct timeval tv = {.tv_sec = 1};
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

Test(bodies, endless_chunked_upload_is_cut_off)
{
	setup(small_limit_env);
	char *head = it_asprintf("POST /api/v1/notes HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	                         "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
	                         "Transfer-Encoding: chunked\r\n\r\n",
	                         me.access);
	int fd = connect_with_send_timeout();
	cr_assert(tcp_send_all(fd, head, strlen(head)));
	/* 4 KiB chunks, sent whole (off carries a partial send over) so the framing stays valid. */
	char *pad = it_repeat("a", 4096);
	char *chunk = it_asprintf("1000\r\n%s\r\n", pad);
	size_t len = strlen(chunk), off = 0, sent = 0;
	const size_t give_up = 256u << 20;
	bool cut = false;
	double t0 = it_now_ms();
	while (sent < give_up && it_now_ms() - t0 < 10000) {
		ssize_t w = send(fd, chunk + off, len - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			cut = errno == EPIPE || errno == ECONNRESET;
			break;
		}
		sent += (size_t)w;
		off = (off + (size_t)w) % len;
	}
	double took = it_now_ms() - t0;
	char resp[4096];
	bool closed = false;
	if (!cut) /* the send timed out: the server may have answered and stopped reading */
		tcp_read(fd, resp, sizeof(resp), 2000, &closed);
	close(fd);
	cr_assert(cut || closed || strstr(resp, " 413 "),
	          "an endless chunked upload was still being read after %zu bytes and %.0f ms "
	          "(MAX_BODY_BYTES=4096)",
	          sent, took);
	/* What the kernel buffers on loopback, not what the server read. */
	cr_assert(sent < (32u << 20), "%zu bytes went in before the cut, after %.0f ms", sent,
	          took);
	cr_assert(took < 5000, "the cut came after %.0f ms", took);
	cr_assert(log_has_cut(), "no request_cut line in the log");
	struct http_resp r;
	cr_assert_eq(http(&srv, "GET", "/health", NULL, NULL, &r), 200);
	http_resp_free(&r);
	cr_assert_eq(note_total(), 0, "the endless upload stored a note");
	free(head);
	free(pad);
	free(chunk);
	server_stop_ok(&srv);
}

static const char *const short_idle_env[] = {"IDLE_TIMEOUT_SECONDS=1", NULL};

Test(bodies, trickling_body_is_cut_at_the_deadline)
{
	/* A byte every 200 ms never trips the 1 s idle timeout; the 2 s body deadline cuts it. */
	setup(short_idle_env);
	const char *head = "POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	                   "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n";
	int fd = connect_with_send_timeout();
	cr_assert(tcp_send_all(fd, head, strlen(head)));
	double t0 = it_now_ms();
	bool closed = false;
	char buf[4096];
	while (!closed && it_now_ms() - t0 < 8000) {
		if (!tcp_send_all(fd, " ", 1))
			break;
		tcp_read(fd, buf, sizeof(buf), 200, &closed);
	}
	double took = it_now_ms() - t0;
	close(fd);
	cr_assert(took < 5000,
	          "a body trickling a byte every 200 ms was still open after %.0f ms "
	          "(IDLE_TIMEOUT_SECONDS=1: deadline 2 s)",
	          took);
	cr_assert(took >= 1500, "cut after %.0f ms, before the 2 s deadline", took);
	cr_assert(log_has_cut(), "no request_cut line in the log");
	server_stop_ok(&srv);
}

Test(bodies, trickling_body_does_not_hold_shutdown)
{
	setup(NULL); /* the default 30 s idle timeout, so only shutdown can end the upload */
	const char *head = "POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	                   "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n";
	int fd = connect_with_send_timeout();
	cr_assert(tcp_send_all(fd, head, strlen(head)));
	for (int i = 0; i < 5; i++) {
		tcp_send_all(fd, " ", 1);
		it_sleep_ms(100);
	}
	server_signal(&srv, SIGTERM);
	double t0 = it_now_ms();
	int st = -1;
	while (st == -1 && it_now_ms() - t0 < 8000) {
		tcp_send_all(fd, " ", 1);
		st = server_wait(&srv, 100);
	}
	double took = it_now_ms() - t0;
	close(fd);
	cr_assert(st != -1, "a trickling upload held the server for 8 s after SIGTERM");
	cr_assert(took < 3000, "shutdown took %.0f ms with a trickling upload", took);
	server_stop_ok(&srv); /* already exited: checks status 0 and server_stopped */
}

Test(bodies, content_length_mismatch_does_not_hang)
{
	setup(NULL);
	/* Announces 100 bytes, sends 10, then waits: the server must not wait forever... */
	char resp[4096];
	const char *head = "POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	                   "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n";
	int fd = tcp_connect(&srv);
	cr_assert(fd >= 0);
	tcp_send_all(fd, head, strlen(head));
	tcp_send_all(fd, "{\"email\":", 9);
	/* ...and meanwhile other clients are served. */
	struct http_resp r;
	cr_assert_eq(http(&srv, "GET", "/health", NULL, NULL, &r), 200);
	cr_assert(r.elapsed_ms < 2000, "a stalled upload delayed /health by %.0f ms", r.elapsed_ms);
	http_resp_free(&r);
	/* Half-close: the body ends early. Any 4xx or a close is fine, not a 500. */
	shutdown(fd, SHUT_WR);
	bool closed;
	tcp_read(fd, resp, sizeof(resp), 5000, &closed);
	close(fd);
	cr_assert(strstr(resp, " 500 ") == NULL, "truncated upload answered 500: %.80s", resp);
	cr_assert(closed || resp[0], "truncated upload: no answer and no close within 5 s");
	server_stop_ok(&srv);
}
