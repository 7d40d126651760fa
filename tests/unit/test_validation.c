/*
 * test_validation.c - input rules: e-mail, password, text, and routing.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "core/text.h"
#include "http/router.h"
#include "services/auth.h"

Test(email, normalises_case)
{
	char out[STORE_EMAIL_MAX + 1];
	cr_assert_eq(auth_normalize_email("Ada.Lovelace@Example.COM", out, NULL), VERR_OK);
	cr_assert_str_eq(out, "ada.lovelace@example.com");
}

Test(email, accepts_common_forms)
{
	const char *ok[] = {"a@b.io", "first.last+tag@sub.example.org", "x_y-z@my-host.co.uk",
	                    "o'brien@example.ie"};
	char out[STORE_EMAIL_MAX + 1];
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		cr_assert_eq(auth_normalize_email(ok[i], out, NULL), VERR_OK, "%s", ok[i]);
}

Test(email, refuses_bad_forms)
{
	const char *bad[] = {"",         "plain",          "@example.com", "a@",       "a@b",
	                     "a@@b.com", "a b@c.com",      ".a@b.com",     "a.@b.com", "a..b@c.com",
	                     "a@-b.com", "a@b-.com",       "a@b..com",     "a@b.com.", "a@.b.com",
	                     "a@b.123",  "a@exa mple.com", "é@b.com",      "a@b_c.com"};
	char out[STORE_EMAIL_MAX + 1];
	struct verror e;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(auth_normalize_email(bad[i], out, &e), VERR_INVALID, "%s", bad[i]);
		cr_assert(strncmp(e.detail, "email:", 6) == 0, "%s", e.detail);
	}
}

Test(email, refuses_over_254)
{
	char long_email[300];
	memset(long_email, 'a', sizeof(long_email));
	memcpy(long_email + 250, "@b.io", 6);
	char out[STORE_EMAIL_MAX + 1];
	cr_assert_eq(auth_normalize_email(long_email, out, NULL), VERR_INVALID);
}

Test(password, length_is_8_to_72_bytes)
{
	struct verror e;
	char p73[74];
	memset(p73, 'x', 73);
	p73[73] = '\0';
	cr_assert_eq(auth_check_password("1234567", &e), VERR_INVALID);
	cr_assert_eq(auth_check_password("12345678", &e), VERR_OK);
	cr_assert_eq(auth_check_password(p73, &e), VERR_INVALID);
	cr_assert_not_null(strstr(e.detail, "72"), "%s", e.detail);
	p73[72] = '\0';
	cr_assert_eq(auth_check_password(p73, &e), VERR_OK);
}

Test(text, utf8_validation)
{
	cr_assert(text_utf8_valid("héllo ✓ 🎉", strlen("héllo ✓ 🎉")));
	cr_assert_not(text_utf8_valid("\xff", 1));
	cr_assert_not(text_utf8_valid("\xc3", 1));             /* truncated */
	cr_assert_not(text_utf8_valid("\xc0\xaf", 2));         /* overlong */
	cr_assert_not(text_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
	cr_assert_not(text_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
	cr_assert_eq(text_utf8_len("héllo", strlen("héllo")), 5);
}

Test(text, control_characters)
{
	cr_assert_not(text_has_control("plain text", false));
	cr_assert(text_has_control("tab\there", false));
	cr_assert_not(text_has_control("tab\there\nnew\r\n", true));
	cr_assert(text_has_control("bell\a", true));
	cr_assert(text_has_control("del\x7f", true));
	cr_assert(text_has_control("c1\xc2\x85", true));
	cr_assert_not(text_has_control("é ü", false));
}

Test(text, trim)
{
	char *t = text_trim("  \t hello world \n ");
	cr_assert_str_eq(t, "hello world");
	free(t);
	t = text_trim("   ");
	cr_assert_str_eq(t, "");
	free(t);
}

Test(text, trim_unicode_white_space)
{
	static const char *const only_space[] = {
	    "\u00A0",       "\u00A0\u00A0 ", "\u1680",  "\u2000\u2005\u200A",
	    "\u2028\u2029", "\u202F",        "\u205F",  "\u3000",
	    "\uFEFF",       "\u200B",        "\xC2\x85"};
	for (size_t i = 0; i < sizeof(only_space) / sizeof(only_space[0]); i++) {
		char *t = text_trim(only_space[i]);
		cr_assert_str_eq(t, "", "case %zu left \"%s\"", i, t);
		free(t);
	}
	char *t = text_trim("\uFEFF\u3000 Title\u00A0with\u2003inner space \u00A0\u202F");
	cr_assert_str_eq(t, "Title\u00A0with\u2003inner space");
	free(t);
	/* Other non-ASCII characters at the edges stay, whole. */
	t = text_trim("\u00A0\u00E9t\u00E9\u00A0");
	cr_assert_str_eq(t, "\u00E9t\u00E9");
	free(t);
	t = text_trim("\u2003\U0001F389");
	cr_assert_str_eq(t, "\U0001F389");
	free(t);
}

Test(text, utf8_sanitize)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"", ""},
	    {"plain", "plain"},
	    {"h\u00E9llo \u2713 \U0001F389", "h\u00E9llo \u2713 \U0001F389"},
	    {"\xff", "\uFFFD"},
	    {"/api/v1/\xff", "/api/v1/\uFFFD"},
	    {"a\xc3", "a\uFFFD"},                             /* truncated */
	    {"\xc0\xaf", "\uFFFD\uFFFD"},                     /* overlong */
	    {"\xed\xa0\x80", "\uFFFD\uFFFD\uFFFD"},           /* surrogate */
	    {"\xf4\x90\x80\x80", "\uFFFD\uFFFD\uFFFD\uFFFD"}, /* > U+10FFFF */
	    {"\xe2\x82x\xe2\x82\xac", "\uFFFD\uFFFDx\u20AC"}, /* cut short, then whole */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = text_utf8_sanitize(cases[i].in);
		cr_assert_str_eq(s, cases[i].out, "case %zu", i);
		cr_assert(text_utf8_valid(s, strlen(s)), "case %zu", i);
		free(s);
	}
}

static enum verr dummy(struct api_req *req, struct api_resp *resp)
{
	(void)req, (void)resp;
	return VERR_OK;
}

static const struct api_route routes[] = {
    {"GET", "/api/v1/notes", dummy, 200, 0},         {"POST", "/api/v1/notes", dummy, 201, 0},
    {"GET", "/api/v1/notes/{id}", dummy, 200, 0},    {"PUT", "/api/v1/notes/{id}", dummy, 200, 0},
    {"DELETE", "/api/v1/notes/{id}", dummy, 204, 0}, {0},
};

Test(router, matches_and_captures)
{
	struct route_match m;
	router_match(routes, "GET", "/api/v1/notes/42", &m);
	cr_assert_eq(m.route, &routes[2]);
	cr_assert_str_eq(m.captures[0], "42");
	router_match(routes, "HEAD", "/api/v1/notes", &m);
	cr_assert_eq(m.route, &routes[0]);
}

Test(router, unknown_path_is_404_known_path_405_with_allow)
{
	struct route_match m;
	router_match(routes, "GET", "/api/v1/nope", &m);
	cr_assert_null(m.route);
	cr_assert_not(m.path_known);
	router_match(routes, "GET", "/api/v1/notes/42/extra", &m);
	cr_assert_null(m.route);
	cr_assert_not(m.path_known);
	router_match(routes, "PATCH", "/api/v1/notes/42", &m);
	cr_assert_null(m.route);
	cr_assert(m.path_known);
	cr_assert_str_eq(m.allow, "GET, PUT, DELETE");
}

Test(router, empty_and_oversized_captures)
{
	struct route_match m;
	router_match(routes, "GET", "/api/v1/notes/", &m);
	cr_assert_null(m.route);
	char path[200] = "/api/v1/notes/";
	memset(path + strlen(path), '9', 100);
	router_match(routes, "GET", path, &m);
	cr_assert_eq(m.route, &routes[2]);
	cr_assert_str_eq(m.captures[0], "");
}
