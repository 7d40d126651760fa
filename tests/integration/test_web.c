/*
 * test_web.c - the web page as the server hands it out: index.html at / with
 * the page's Content-Security-Policy, assets with their content types and
 * ETags, the refresh token as an HttpOnly cookie (set at login, accepted and
 * rotated by refresh, cleared by logout), and notes rendered to HTML with
 * raw HTML escaped.
 */
#include "integration/harness.h"

#include <string.h>

static struct server srv;
static struct it_user me;

static void cleanup(void)
{
	user_free(&me);
	server_cleanup(&srv);
}

TestSuite(web, .fini = cleanup, .timeout = IT_TIMEOUT(60));

#define COOKIE "vault_refresh"

/* The value of the vault_refresh cookie in r's Set-Cookie, or NULL; caller frees. */
static char *set_cookie_value(const struct http_resp *r)
{
	const char *sc = http_header(r, "Set-Cookie");
	if (!sc || strncmp(sc, COOKIE "=", sizeof(COOKIE)) != 0)
		return NULL;
	const char *v = sc + sizeof(COOKIE);
	return strndup(v, strcspn(v, ";"));
}

/* POST /api/v1/auth/refresh with only the cookie, no body. */
static int refresh_with_cookie(const char *value, struct http_resp *r)
{
	char *cookie = it_asprintf("Cookie: " COOKIE "=%s", value);
	const char *headers[] = {cookie, NULL};
	int st = http(&srv, "POST", "/api/v1/auth/refresh", headers, NULL, r);
	free(cookie);
	return st;
}

/* Logs me in again and returns the cookie set (asserting its flags); caller frees. */
static char *login_cookie(struct http_resp *r)
{
	char *body = it_jpack("{s:s, s:s}", "email", me.email, "password", me.password);
	cr_assert_eq(http(&srv, "POST", "/api/v1/auth/login", NULL, body, r), 200);
	free(body);
	char *v = set_cookie_value(r);
	cr_assert(v, "login set no " COOKIE " cookie: %s", http_header(r, "Set-Cookie"));
	return v;
}

Test(web, index_is_html_with_a_strict_csp)
{
	server_start(&srv, NULL);
	static const char *const paths[] = {"/", "/index.html", NULL};
	for (int i = 0; paths[i]; i++) {
		struct http_resp r;
		cr_assert_eq(http(&srv, "GET", paths[i], NULL, NULL, &r), 200, "GET %s: %d",
		             paths[i], r.status);
		cr_assert(it_contains(http_header(&r, "Content-Type"), "text/html", true),
		          "GET %s Content-Type: %s", paths[i], http_header(&r, "Content-Type"));
		cr_assert(it_contains(r.body, "<!doctype html>", true), "GET %s: %.200s", paths[i],
		          r.body);
		const char *csp = http_header(&r, "Content-Security-Policy");
		cr_assert(csp, "GET %s: no CSP", paths[i]);
		cr_assert(it_contains(csp, "default-src 'self'", false), "CSP: %s", csp);
		cr_assert(it_contains(csp, "script-src 'self';", false), "CSP: %s", csp);
		cr_assert(it_contains(csp, "frame-ancestors 'none'", false), "CSP: %s", csp);
		cr_assert(it_contains(csp, "base-uri 'none'", false), "CSP: %s", csp);
		cr_assert(!it_contains(csp, "unsafe", true), "CSP allows unsafe: %s", csp);
		cr_assert_str_eq(http_header(&r, "X-Content-Type-Options"), "nosniff");
		cr_assert_str_eq(http_header(&r, "Cache-Control"), "no-cache");
		http_resp_free(&r);
	}
	server_stop_ok(&srv);
}

Test(web, assets_have_their_types_etags_and_methods)
{
	server_start(&srv, NULL);
	static const char *const assets[][2] = {{"/app.css", "text/css"},
	                                        {"/js/app.js", "text/javascript"},
	                                        {"/js/api.js", "text/javascript"},
	                                        {"/favicon.svg", "image/svg+xml"}};
	for (size_t i = 0; i < sizeof(assets) / sizeof(assets[0]); i++) {
		struct http_resp r;
		cr_assert_eq(http(&srv, "GET", assets[i][0], NULL, NULL, &r), 200, "GET %s",
		             assets[i][0]);
		cr_assert(it_contains(http_header(&r, "Content-Type"), assets[i][1], true),
		          "GET %s Content-Type: %s", assets[i][0], http_header(&r, "Content-Type"));
		cr_assert(r.body_len > 0);
		char *inm = it_asprintf("If-None-Match: %s", http_header(&r, "ETag"));
		const char *h[] = {inm, NULL};
		http_resp_free(&r);
		cr_assert_eq(http(&srv, "GET", assets[i][0], h, NULL, &r), 304,
		             "GET %s with its ETag: %d", assets[i][0], r.status);
		cr_assert_eq(r.body_len, 0);
		free(inm);
		http_resp_free(&r);
	}
	struct http_resp r;
	http(&srv, "POST", "/index.html", NULL, "{}", &r);
	cr_assert_eq(r.status, 405);
	cr_assert(http_header_has_token(&r, "Allow", "GET"));
	http_resp_free(&r);
	http(&srv, "GET", "/js/missing.js", NULL, NULL, &r);
	cr_assert_eq(r.status, 404);
	assert_error_body(&r, "missing asset");
	http_resp_free(&r);
	/* The API keeps its own headers. */
	http(&srv, "GET", "/health", NULL, NULL, &r);
	cr_assert_str_eq(http_header(&r, "Content-Security-Policy"),
	                 "default-src 'none'; frame-ancestors 'none'");
	http_resp_free(&r);
	server_stop_ok(&srv);
}

Test(web, login_sets_an_httponly_strict_cookie)
{
	server_start(&srv, NULL);
	user_new(&srv, &me);
	struct http_resp r;
	char *v = login_cookie(&r);
	const char *sc = http_header(&r, "Set-Cookie");
	cr_assert_str_eq(v, resp_str(&r, "refresh_token"), "cookie and JSON differ");
	cr_assert(it_contains(sc, "; HttpOnly", false), "Set-Cookie: %s", sc);
	cr_assert(it_contains(sc, "; SameSite=Strict", false), "Set-Cookie: %s", sc);
	cr_assert(it_contains(sc, "; Path=/api/v1/auth;", false), "Set-Cookie: %s", sc);
	cr_assert(it_contains(sc, "; Max-Age=1209600", false), "Set-Cookie: %s", sc);
	/* Development on plain http: Secure would make the browser drop it. */
	cr_assert(!it_contains(sc, "Secure", false), "Set-Cookie: %s", sc);
	free(v);
	http_resp_free(&r);
	server_stop_ok(&srv);
}

Test(web, refresh_with_the_cookie_rotates_it)
{
	/* No grace: the spent cookie below comes milliseconds after its rotation. */
	server_start(&srv, (const char *const[]){"REFRESH_REUSE_GRACE_SECONDS=0", NULL});
	user_new(&srv, &me);
	struct http_resp r;
	char *c0 = login_cookie(&r);
	http_resp_free(&r);

	cr_assert_eq(refresh_with_cookie(c0, &r), 200, "refresh by cookie: %d %s", r.status,
	             r.body);
	char *c1 = set_cookie_value(&r);
	cr_assert(c1, "refresh set no cookie");
	cr_assert_str_neq(c1, c0, "the cookie did not rotate");
	cr_assert_str_eq(c1, resp_str(&r, "refresh_token"));
	char *access = it_strdup(resp_str(&r, "access_token"));
	http_resp_free(&r);
	cr_assert_eq(api(&srv, "GET", "/api/v1/auth/me", access, NULL, &r), 200);
	http_resp_free(&r);

	/* The spent cookie is refused (and ends that login, as a reused token does). */
	cr_assert_eq(refresh_with_cookie(c0, &r), 401);
	http_resp_free(&r);
	cr_assert_eq(refresh_with_cookie(c1, &r), 401);
	http_resp_free(&r);

	/* A refresh_token in the body wins over the cookie. */
	char *c2 = login_cookie(&r);
	http_resp_free(&r);
	char *cookie = it_asprintf("Cookie: " COOKIE "=%s", "garbage");
	const char *headers[] = {cookie, NULL};
	char *body = it_jpack("{s:s}", "refresh_token", c2);
	cr_assert_eq(http(&srv, "POST", "/api/v1/auth/refresh", headers, body, &r), 200);
	http_resp_free(&r);
	/* No cookie and no body: the field is required, as before. */
	cr_assert_eq(http(&srv, "POST", "/api/v1/auth/refresh", NULL, NULL, &r), 422);
	http_resp_free(&r);
	free(body);
	free(cookie);
	free(access);
	free(c0);
	free(c1);
	free(c2);
	server_stop_ok(&srv);
}

Test(web, logout_clears_the_cookie_and_ends_that_login)
{
	server_start(&srv, NULL);
	user_new(&srv, &me);
	struct http_resp r;
	char *c = login_cookie(&r);
	char *access = it_strdup(resp_str(&r, "access_token"));
	http_resp_free(&r);

	char *cookie = it_asprintf("Cookie: " COOKIE "=%s", c);
	char *authz = it_asprintf("Authorization: Bearer %s", access);
	const char *headers[] = {cookie, authz, NULL};
	cr_assert_eq(http(&srv, "POST", "/api/v1/auth/logout", headers, NULL, &r), 204);
	const char *sc = http_header(&r, "Set-Cookie");
	cr_assert(sc && strncmp(sc, COOKIE "=;", sizeof(COOKIE) + 1) == 0, "Set-Cookie: %s", sc);
	cr_assert(it_contains(sc, "Max-Age=0", false), "Set-Cookie: %s", sc);
	cr_assert(it_contains(sc, "Path=/api/v1/auth", false), "Set-Cookie: %s", sc);
	http_resp_free(&r);

	cr_assert_eq(refresh_with_cookie(c, &r), 401, "refresh after logout: %d", r.status);
	http_resp_free(&r);
	/* Only that login ended: the one user_new() made still refreshes. */
	char *body = it_jpack("{s:s}", "refresh_token", me.refresh);
	cr_assert_eq(api(&srv, "POST", "/api/v1/auth/refresh", NULL, body, &r), 200);
	http_resp_free(&r);
	free(body);
	free(cookie);
	free(authz);
	free(access);
	free(c);
	server_stop_ok(&srv);
}

Test(web, content_html_escapes_raw_html)
{
	server_start(&srv, NULL);
	user_new(&srv, &me);
	const char *content = "# Title\n\n**bold** and <script>alert(1)</script>\n\n"
	                      "<img src=x onerror=\"alert(2)\">\n\n[x](https://example.com/)\n";
	char *body = it_jpack("{s:s, s:s}", "title", "hostile", "content", content);
	long long id = note_create(&srv, me.access, body);
	free(body);

	struct http_resp r;
	char *path = it_asprintf("/api/v1/notes/%lld?format=html", id);
	cr_assert_eq(api(&srv, "GET", path, me.access, NULL, &r), 200);
	const char *html = resp_str(&r, "content_html");
	cr_assert(html, "no content_html: %s", r.body);
	cr_assert_str_eq(resp_str(&r, "content"), content, "content changed");
	cr_assert(it_contains(html, "<h1>Title</h1>", false), "html: %s", html);
	cr_assert(it_contains(html, "<strong>bold</strong>", false), "html: %s", html);
	cr_assert(it_contains(html, "&lt;script&gt;alert(1)&lt;/script&gt;", false), "html: %s",
	          html);
	cr_assert(it_contains(html, "&lt;img src=x onerror=", false), "html: %s", html);
	cr_assert(!it_contains(html, "<script", true), "html: %s", html);
	cr_assert(!it_contains(html, "<img", true), "html: %s", html);
	cr_assert(it_contains(html, "<a href=\"https://example.com/\">", false), "html: %s", html);
	http_resp_free(&r);
	free(path);

	/* A javascript: URL is no link in content_html, whatever reads it. */
	body =
	    it_jpack("{s:s}", "content", "[a](JavaScript:alert(1)) [b](jav&#97;script:x) [c](/ok)");
	cr_assert_eq(api(&srv, "POST", "/api/v1/render", me.access, body, &r), 200);
	html = resp_str(&r, "html");
	cr_assert(html && !it_contains(html, "script:", true), "render: %s", r.body);
	cr_assert(it_contains(html, "<a href=\"/ok\">c</a>", false), "render: %s", r.body);
	http_resp_free(&r);
	free(body);

	/* Without format=html the note is as before. */
	cr_assert_eq(note_get(&srv, me.access, id, &r), 200);
	cr_assert_null(json_object_get(r.json, "content_html"));
	http_resp_free(&r);
	path = it_asprintf("/api/v1/notes/%lld?format=pdf", id);
	cr_assert_eq(api(&srv, "GET", path, me.access, NULL, &r), 422);
	http_resp_free(&r);
	free(path);

	/* The editor's preview renders the same way. */
	body = it_jpack("{s:s}", "content", "<script>alert(3)</script> *em*");
	cr_assert_eq(api(&srv, "POST", "/api/v1/render", me.access, body, &r), 200);
	html = resp_str(&r, "html");
	cr_assert(html && !it_contains(html, "<script", true), "render: %s", r.body);
	cr_assert(it_contains(html, "<em>em</em>", false), "render: %s", r.body);
	http_resp_free(&r);
	cr_assert_eq(api(&srv, "POST", "/api/v1/render", NULL, body, &r), 401);
	http_resp_free(&r);
	free(body);
	server_stop_ok(&srv);
}

Test(web, the_worst_markdown_saves_and_renders)
{
	/* 1 MiB of "]([" lines took md4c 18 s on every save and render; rows
	 * padded to a wide header made hundreds of MB of HTML. */
	server_start(&srv, NULL);
	user_new(&srv, &me);
	const char *shapes[] = {"]([\n", "[x]\n", NULL};
	for (int i = 0; i < 3; i++) {
		size_t cap = 1024 * 1024 - 64, len = 0;
		char *md = malloc(cap + 1);
		if (shapes[i]) {
			while (len + strlen(shapes[i]) <= cap)
				len += (size_t)sprintf(md + len, "%s", shapes[i]);
		} else {
			for (int k = 0; k < 127; k++)
				len += (size_t)sprintf(md + len, "|h%d", k);
			len += (size_t)sprintf(md + len, "|\n");
			for (int k = 0; k < 127; k++)
				len += (size_t)sprintf(md + len, "|---");
			len += (size_t)sprintf(md + len, "|\n");
			while (len + 2 <= cap)
				len += (size_t)sprintf(md + len, "|\n");
		}
		char *body = it_jpack("{s:s, s:s}", "title", "worst", "content", md);
		long long id = note_create(&srv, me.access, body);
		free(body);
		struct http_resp r;
		char *path = it_asprintf("/api/v1/notes/%lld?format=html", id);
		cr_assert_eq(api(&srv, "GET", path, me.access, NULL, &r), 200, "shape %d", i);
		const char *html = resp_str(&r, "content_html");
		cr_assert(html && strlen(html) <= 8 * len + 65536, "shape %d: %zu bytes of HTML", i,
		          html ? strlen(html) : 0);
		http_resp_free(&r);
		free(path);
		free(md);
	}
	server_stop_ok(&srv);
}
