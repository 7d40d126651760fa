/*
 * test_admission.c - what the server refuses before doing the work: rate
 * limits on the routes that take a password (per client address and per
 * account), the client address behind a trusted proxy, small bodies for
 * unauthenticated routes, tokens checked before a body is read, the shared
 * budget of buffered bodies, and connections per address.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "integration/harness.h"

static struct server srv;
static struct it_user me;

static void cleanup(void)
{
	user_free(&me);
	server_cleanup(&srv);
}

TestSuite(admission, .fini = cleanup, .timeout = IT_TIMEOUT(120));

static int login(const char *email, const char *password, const char *const *headers,
                 struct http_resp *r)
{
	char *body = it_jpack("{s:s, s:s}", "email", email, "password", password);
	int status = http(&srv, "POST", "/api/v1/auth/login", headers, body, r);
	free(body);
	return status;
}

/* Asserts a 429 with a JSON detail and a Retry-After of at least one second. */
static void assert_limited(const struct http_resp *r, const char *what)
{
	cr_assert_eq(r->status, 429, "%s: %d %.200s", what, r->status, r->body);
	assert_error_body(r, what);
	const char *ra = http_header(r, "Retry-After");
	cr_assert(ra && atoi(ra) >= 1, "%s: Retry-After %s", what, ra ? ra : "(none)");
}

Test(admission, password_routes_are_limited_per_address)
{
	const char *env[] = {"AUTH_RATE_PER_MINUTE=5", NULL};
	server_start(&srv, env);
	user_new(&srv, &me); /* registers and signs in: two of the five */
	struct http_resp r;
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(login("nobody@example.com", "wrong password", NULL, &r), 401, "try %d",
		             i);
		http_resp_free(&r);
	}
	/* Over the limit, the answer comes after a second: a crowd hammering
	 * from one address gets one refusal a second a connection. */
	double t0 = it_now_ms();
	login("nobody@example.com", "wrong password", NULL, &r);
	assert_limited(&r, "sixth password request");
	cr_assert_geq(it_now_ms() - t0, 900, "the 429 came at once");
	http_resp_free(&r);
	api(&srv, "POST", "/api/v1/auth/refresh", NULL, "{\"refresh_token\":\"x\"}", &r);
	assert_limited(&r, "refresh after the limit");
	http_resp_free(&r);

	/* Everything else goes on. */
	cr_assert_eq(api(&srv, "GET", "/api/v1/auth/me", me.access, NULL, &r), 200);
	http_resp_free(&r);
	long long id = note_create(&srv, me.access, "{\"title\":\"still here\"}");
	cr_assert_eq(note_get(&srv, me.access, id, &r), 200);
	http_resp_free(&r);
	server_stop_ok(&srv);
}

Test(admission, guesses_at_one_account_are_limited)
{
	const char *env[] = {"LOGIN_RATE_PER_MINUTE=3", NULL};
	server_start(&srv, env);
	user_new(&srv, &me); /* one sign-in of the three */
	struct http_resp r;
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(login(me.email, "not the password", NULL, &r), 401);
		http_resp_free(&r);
	}
	/* The right password does not get through either: the account is limited. */
	login(me.email, me.password, NULL, &r);
	assert_limited(&r, "fourth sign-in to one account");
	http_resp_free(&r);
	/* Upper case is the same account. */
	char upper[sizeof(me.email)];
	for (size_t i = 0; i <= strlen(me.email); i++)
		upper[i] = (char)(me.email[i] >= 'a' && me.email[i] <= 'z' ? me.email[i] - 32
		                                                           : me.email[i]);
	login(upper, me.password, NULL, &r);
	assert_limited(&r, "the same account in upper case");
	http_resp_free(&r);
	/* Another account, and whether one exists, is not affected. */
	struct it_user other;
	user_new(&srv, &other);
	cr_assert_eq(login("ghost@example.com", "whatever pw", NULL, &r), 401);
	http_resp_free(&r);
	user_free(&other);
	server_stop_ok(&srv);
}

Test(admission, client_address_comes_from_a_trusted_proxy_only)
{
	const char *hdr1[] = {"X-Forwarded-For: 203.0.113.9, 10.0.0.1", NULL};
	const char *hdr2[] = {"X-Forwarded-For: 10.0.0.2", NULL};
	struct http_resp r;

	/* No proxy trusted: X-Forwarded-For is the client's to write, and ignored. */
	const char *plain[] = {"AUTH_RATE_PER_MINUTE=2", NULL};
	server_start(&srv, plain);
	cr_assert_eq(login("a@example.com", "password1", hdr1, &r), 401);
	http_resp_free(&r);
	cr_assert_eq(login("a@example.com", "password1", hdr2, &r), 401);
	http_resp_free(&r);
	login("a@example.com", "password1", (const char *[]){"X-Forwarded-For: 10.9.9.9", NULL},
	      &r);
	assert_limited(&r, "a spoofed X-Forwarded-For");
	http_resp_free(&r);
	char *log = server_log(&srv);
	cr_assert(it_contains(log, "\"client\":\"127.0.0.1\"", false),
	          "no client address in the log");
	cr_assert(!it_contains(log, "10.0.0.1", false), "a spoofed address was believed");
	free(log);
	server_stop_ok(&srv);

	/* Behind a trusted proxy: each client its own limit, and its address in the logs. */
	const char *proxied[] = {"AUTH_RATE_PER_MINUTE=2", "TRUSTED_PROXIES=127.0.0.0/8, ::1",
	                         NULL};
	server_start(&srv, proxied);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(login("a@example.com", "password1", hdr1, &r), 401);
		http_resp_free(&r);
	}
	login("a@example.com", "password1", hdr1, &r);
	assert_limited(&r, "a third request from 10.0.0.1");
	http_resp_free(&r);
	cr_assert_eq(login("a@example.com", "password1", hdr2, &r), 401, "another client");
	http_resp_free(&r);
	log = server_log(&srv);
	cr_assert(it_contains(log, "\"client\":\"10.0.0.1\"", false), "log: %.2000s", log);
	cr_assert(it_contains(log, "\"client\":\"10.0.0.2\"", false), "log: %.2000s", log);
	/* The address before the last untrusted hop is the client's to write. */
	cr_assert(!it_contains(log, "203.0.113.9", false), "a client-written address was believed");
	free(log);
	server_stop_ok(&srv);
}

/* Sends raw headers and returns the status the server answers within timeout_ms, or -1. */
static int raw_status(const char *head, int timeout_ms)
{
	int fd = tcp_connect(&srv);
	cr_assert(fd >= 0);
	tcp_send_all(fd, head, strlen(head));
	char buf[4096];
	bool closed;
	int code = tcp_read_head(fd, buf, sizeof(buf), timeout_ms, &closed);
	close(fd);
	return code;
}

Test(admission, refusals_come_before_the_body)
{
	server_start(&srv, NULL);
	user_new(&srv, &me);
	/* Each announces a body it never sends: the answer cannot wait for it. */
	cr_assert_eq(raw_status("POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\n"
	                        "Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n",
	                        3000),
	             413, "a 5,000-byte login");
	cr_assert_eq(raw_status("POST /api/v1/notes HTTP/1.1\r\nHost: x\r\n"
	                        "Authorization: Bearer not-a-token\r\n"
	                        "Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n",
	                        3000),
	             401, "a note with a bad token");
	cr_assert_eq(raw_status("POST /api/v1/notes HTTP/1.1\r\nHost: x\r\n"
	                        "Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n",
	                        3000),
	             401, "a note with no token");

	/* A login body just over the limit, sent in full, is a 413 too. */
	char *big = it_repeat("x", 4200);
	char *body = it_jpack("{s:s, s:s}", "email", "a@example.com", "password", big);
	struct http_resp r;
	cr_assert_eq(http(&srv, "POST", "/api/v1/auth/login", NULL, body, &r), 413);
	assert_error_body(&r, "big login");
	http_resp_free(&r);
	free(body);
	free(big);
	server_stop_ok(&srv);
}

Test(admission, bodies_share_one_budget)
{
	const char *env[] = {"MAX_BODY_BYTES=65536", "BODY_BUFFER_BYTES=100000", NULL};
	server_start(&srv, env);
	user_new(&srv, &me);
	char head[512];
	snprintf(head, sizeof(head),
	         "POST /api/v1/notes HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
	         "Expect: 100-continue\r\nContent-Type: application/json\r\n"
	         "Content-Length: 60000\r\n\r\n",
	         me.access);
	/* One upload holds 60,000 bytes of the budget while it trickles in (the
	 * 100 Continue says the server has admitted it, however slow the build)... */
	int slow = tcp_connect(&srv);
	cr_assert(slow >= 0);
	tcp_send_all(slow, head, strlen(head));
	char buf[4096];
	bool closed;
	cr_assert_eq(tcp_read_head(slow, buf, sizeof(buf), HTTP_TIMEOUT_MS, &closed), 100,
	             "the first big body: %.200s", buf);
	tcp_send_all(slow, "{\"title\":", 9);
	/* ...so another of 60,000 finds no room, and says when to come back. */
	cr_assert_eq(raw_status(head, 3000), 503, "a second big body");
	/* A small one still fits. */
	struct http_resp r;
	cr_assert_eq(api(&srv, "POST", "/api/v1/notes", me.access, "{\"title\":\"small\"}", &r),
	             201);
	http_resp_free(&r);
	close(slow);
	/* The budget comes back when the upload goes away: a retry, as the 503 says, gets in. */
	char *content = it_repeat("y", 50000);
	char *body = it_jpack("{s:s, s:s}", "title", "big", "content", content);
	double deadline = it_now_ms() + HTTP_TIMEOUT_MS;
	while (api(&srv, "POST", "/api/v1/notes", me.access, body, &r) == 503 &&
	       it_now_ms() < deadline) {
		http_resp_free(&r);
		it_sleep_ms(50);
	}
	cr_assert_eq(r.status, 201, "the big body after the upload left: %d", r.status);
	http_resp_free(&r);
	free(body);
	free(content);
	server_stop_ok(&srv);
}

Test(admission, connections_per_address_are_bounded_but_for_proxies)
{
	enum { LIMIT = 64 };
	int fds[LIMIT + 8];
	for (int proxied = 0; proxied < 2; proxied++) {
		const char *env[] = {proxied ? "TRUSTED_PROXIES=127.0.0.1" : NULL, NULL};
		server_start(&srv, env);
		int base = server_socket_count(&srv);
		for (int i = 0; i < LIMIT + 8; i++)
			cr_assert((fds[i] = tcp_connect(&srv)) >= 0, "connect %d", i);
		/* Until the server has taken or refused every one, however slow the build:
		 * it accepts in order, so the last 8 are the ones past the limit. */
		int taken = proxied ? LIMIT + 8 : LIMIT;
		double deadline = it_now_ms() + HTTP_TIMEOUT_MS;
		while (server_socket_count(&srv) < base + taken && it_now_ms() < deadline)
			it_sleep_ms(5);
		for (int i = taken; i < LIMIT + 8; i++)
			cr_assert(tcp_wait_closed(fds[i], HTTP_TIMEOUT_MS),
			          "connection %d was kept", i);
		/* Past the limit the server closes at once; within it, it answers. */
		int answered = 0;
		for (int i = 0; i < LIMIT + 8; i++) {
			const char req[] =
			    "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
			char buf[1024];
			bool closed;
			if (fds[i] >= 0 && tcp_send_all(fds[i], req, sizeof(req) - 1) &&
			    tcp_read_head(fds[i], buf, sizeof(buf), 3000, &closed) == 200)
				answered++;
		}
		for (int i = 0; i < LIMIT + 8; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		if (proxied)
			cr_assert_eq(answered, LIMIT + 8,
			             "a trusted proxy's connections were limited");
		else
			cr_assert_eq(answered, LIMIT, "%d connections from one address answered",
			             answered);
		/* Closed connections give their places back, once the server has seen them go. */
		struct http_req health = {.method = "GET", .path = "/health"};
		struct http_resp r;
		deadline = it_now_ms() + HTTP_TIMEOUT_MS;
		while ((http_do(srv.base_url, &health, &r) != 0 || r.status != 200) &&
		       it_now_ms() < deadline) {
			http_resp_free(&r);
			it_sleep_ms(20);
		}
		cr_assert_eq(r.status, 200, "a new connection after the others closed: %d",
		             r.status);
		http_resp_free(&r);
		server_stop_ok(&srv);
	}
}

Test(admission, quotas_per_user)
{
	const char *env[] = {"USER_MAX_NOTES=2", "USER_MAX_BYTES=100000", NULL};
	server_start(&srv, env);
	user_new(&srv, &me);
	long long a = note_create(&srv, me.access, "{\"title\":\"one\"}");
	note_create(&srv, me.access, "{\"title\":\"two\"}");
	struct http_resp r;
	cr_assert_eq(api(&srv, "POST", "/api/v1/notes", me.access, "{\"title\":\"three\"}", &r),
	             403);
	assert_error_body(&r, "third note");
	cr_assert(it_contains(resp_str(&r, "detail"), "at most 2 notes", false), "%s", r.body);
	http_resp_free(&r);
	/* An edit that would pass the bytes is refused; the note is as it was. */
	char *big = it_repeat("x", 100001);
	char *body = it_jpack("{s:s}", "content", big);
	char *path = it_asprintf("/api/v1/notes/%lld", a);
	cr_assert_eq(api(&srv, "PUT", path, me.access, body, &r), 403);
	http_resp_free(&r);
	cr_assert_eq(note_get(&srv, me.access, a, &r), 200);
	cr_assert_str_eq(resp_str(&r, "content"), "");
	http_resp_free(&r);
	/* Another user has a quota of their own; deleting gives room back. */
	struct it_user other;
	user_new(&srv, &other);
	note_create(&srv, other.access, "{\"title\":\"theirs\"}");
	cr_assert_eq(api(&srv, "DELETE", path, me.access, NULL, &r), 204);
	http_resp_free(&r);
	note_create(&srv, me.access, "{\"title\":\"three, now\"}");
	user_free(&other);
	free(path);
	free(body);
	free(big);
	server_stop_ok(&srv);
}
