/*
 * test_auth.c - registration, login, the access token (what the server
 * issues and which tokens it refuses), refresh rotation with reuse
 * detection, logout and account deletion.
 */
#include "integration/harness.h"

#include <jwt.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

static struct server srv;

static void cleanup(void)
{
	server_cleanup(&srv);
}

TestSuite(auth, .fini = cleanup, .timeout = IT_TIMEOUT(60));

static int post(const char *path, const char *token, const char *body, struct http_resp *r)
{
	return api(&srv, "POST", path, token, body, r);
}

static int do_register(const char *email, const char *password, struct http_resp *r)
{
	char *body = it_jpack("{s:s, s:s}", "email", email, "password", password);
	int st = post("/api/v1/auth/register", NULL, body, r);
	free(body);
	return st;
}

static int do_login(const char *email, const char *password, struct http_resp *r)
{
	char *body = it_jpack("{s:s, s:s}", "email", email, "password", password);
	int st = post("/api/v1/auth/login", NULL, body, r);
	free(body);
	return st;
}

static int do_refresh(const char *refresh, struct http_resp *r)
{
	char *body = it_jpack("{s:s}", "refresh_token", refresh);
	int st = post("/api/v1/auth/refresh", NULL, body, r);
	free(body);
	return st;
}

static int refresh_status(const char *refresh)
{
	struct http_resp r;
	int st = do_refresh(refresh, &r);
	http_resp_free(&r);
	return st;
}

static int me_status(const char *token)
{
	struct http_resp r;
	int st = api(&srv, "GET", "/api/v1/auth/me", token, NULL, &r);
	http_resp_free(&r);
	return st;
}

/* 401 with {"detail"} and WWW-Authenticate: Bearer. */
static void expect_401(const struct http_resp *r, const char *what)
{
	cr_expect_eq(r->status, 401, "%s: status %d, expected 401 (%.200s)", what, r->status,
	             r->body);
	const char *wa = http_header(r, "WWW-Authenticate");
	cr_expect(wa && strncasecmp(wa, "Bearer", 6) == 0,
	          "%s: WWW-Authenticate is \"%s\", expected Bearer", what, wa ? wa : "(none)");
	if (r->status == 401)
		assert_error_body(r, what);
}

/* The login/refresh answer shape. */
static void expect_token_pair(const struct http_resp *r, int expires_in, const char *what)
{
	cr_assert(resp_str(r, "access_token") && *resp_str(r, "access_token"),
	          "%s: no access_token in %.300s", what, r->body);
	cr_assert(resp_str(r, "refresh_token") && *resp_str(r, "refresh_token"),
	          "%s: no refresh_token in %.300s", what, r->body);
	const char *tt = resp_str(r, "token_type");
	cr_assert(tt && strcmp(tt, "bearer") == 0, "%s: token_type %s, expected \"bearer\"", what,
	          tt);
	json_t *ei = json_object_get(r->json, "expires_in");
	cr_assert(json_is_integer(ei), "%s: expires_in not an integer in %.300s", what, r->body);
	cr_assert_eq(json_integer_value(ei), expires_in, "%s: expires_in %lld, expected %d", what,
	             (long long)json_integer_value(ei), expires_in);
	cr_assert_str_neq(resp_str(r, "access_token"), resp_str(r, "refresh_token"),
	                  "%s: access and refresh token are the same", what);
}

/* ------------------------------------------------------------------ */
/* Registration */

Test(auth, register_returns_user_without_secrets)
{
	server_start(&srv, NULL);
	const char *password = "Sup3r-secret-pass";
	struct http_resp r;
	int64_t before = it_time();
	cr_assert_eq(do_register("Mixed.Case@Example.COM", password, &r), 201, "register: %d %s",
	             r.status, r.body);
	int64_t after = it_time();
	cr_assert(json_is_object(r.json), "register body not JSON: %s", r.body);
	cr_assert(json_is_integer(json_object_get(r.json, "id")), "id not an integer: %s", r.body);
	cr_assert(json_integer_value(json_object_get(r.json, "id")) > 0);
	const char *email = resp_str(&r, "email");
	cr_assert(email && strcmp(email, "mixed.case@example.com") == 0,
	          "email \"%s\", expected lower-cased mixed.case@example.com", email);
	const char *created = resp_str(&r, "created_at");
	cr_assert(it_is_iso_ms(created), "created_at \"%s\" is not like 2026-11-24T22:09:04.123Z",
	          created);
	int64_t ms = it_parse_iso_ms(created);
	cr_assert(ms / 1000 >= before - 5 && ms / 1000 <= after + 5,
	          "created_at %s is not now (UTC)", created);
	static const char *const forbidden[] = {"password", "password_hash", "hash",
	                                        "hashed_password", NULL};
	for (int i = 0; forbidden[i]; i++)
		cr_expect(json_object_get(r.json, forbidden[i]) == NULL,
		          "register response has a \"%s\" field", forbidden[i]);
	cr_expect(!strstr(r.body, password), "register response contains the password");
	cr_expect(!strstr(r.body, "$2"), "register response contains a bcrypt hash");
	cr_expect(!it_contains(r.body, "password", true),
	          "register response mentions a password field: %s", r.body);
	http_resp_free(&r);
	server_stop_ok(&srv);
}

Test(auth, register_rejects_bad_emails)
{
	server_start(&srv, NULL);
	char *long_local = it_repeat("a", 250);
	char *too_long = it_asprintf("%s@example.com", long_local); /* 262 chars */
	const char *bad[] = {
	    "",
	    "plainaddress",
	    "missing-domain@",
	    "@missing-local.org",
	    "two@@at.io",
	    "sp ace@x.io",
	    "a@b@c.io",
	    "trailing@x.io\n",
	    "ctl\x01@x.io",
	    too_long,
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct http_resp r;
		do_register(bad[i], "password123", &r);
		cr_expect_eq(r.status, 422, "register email \"%.60s\": status %d, expected 422",
		             bad[i], r.status);
		if (r.status == 422)
			assert_error_body(&r, "bad email");
		http_resp_free(&r);
	}
	/* Missing email or password fields. */
	static const char *const missing[] = {"{\"password\":\"password123\"}",
	                                      "{\"email\":\"ok@example.com\"}", "{}", NULL};
	for (int i = 0; missing[i]; i++) {
		struct http_resp r;
		post("/api/v1/auth/register", NULL, missing[i], &r);
		cr_expect_eq(r.status, 422, "register %s: status %d, expected 422", missing[i],
		             r.status);
		http_resp_free(&r);
	}
	free(long_local);
	free(too_long);
	server_stop_ok(&srv);
}

Test(auth, register_password_length_in_bytes)
{
	server_start(&srv, NULL);
	char *p7 = it_repeat("x", 7), *p8 = it_repeat("y", 8), *p72 = it_repeat("z", 72),
	     *p73 = it_repeat("w", 73);
	char *e4 = it_repeat("\xc3\xa9", 4);   /* 4 characters, 8 bytes: long enough */
	char *e36 = it_repeat("\xc3\xa9", 36); /* 36 characters, 72 bytes: ok */
	char *e37 = it_repeat("\xc3\xa9", 37); /* 37 characters, 74 bytes: too long */
	struct {
		const char *pw;
		int status;
		const char *what;
	} cases[] = {
	    {p7, 422, "7 bytes"},
	    {p8, 201, "8 bytes"},
	    {p72, 201, "72 bytes"},
	    {p73, 422, "73 bytes"},
	    {e4, 201, "4 x U+00E9 = 8 bytes"},
	    {e36, 201, "36 x U+00E9 = 72 bytes"},
	    {e37, 422, "37 x U+00E9 = 74 bytes"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char email[64];
		snprintf(email, sizeof(email), "len%zu@example.com", i);
		struct http_resp r;
		do_register(email, cases[i].pw, &r);
		cr_expect_eq(r.status, cases[i].status,
		             "password of %s: status %d, expected %d (%s)", cases[i].what, r.status,
		             cases[i].status, r.body);
		if (cases[i].status == 422 && strlen(cases[i].pw) > 72)
			cr_expect(resp_str(&r, "detail") && strstr(resp_str(&r, "detail"), "72"),
			          "too-long password: detail \"%s\" does not mention 72",
			          resp_str(&r, "detail"));
		if (cases[i].status == 201) {
			struct http_resp l;
			do_login(email, cases[i].pw, &l);
			cr_expect_eq(l.status, 200, "login with a password of %s: %d",
			             cases[i].what, l.status);
			http_resp_free(&l);
		}
		http_resp_free(&r);
	}
	free(p7);
	free(p8);
	free(p72);
	free(p73);
	free(e4);
	free(e36);
	free(e37);
	server_stop_ok(&srv);
}

Test(auth, register_duplicate_email_case_insensitive_409)
{
	server_start(&srv, NULL);
	struct http_resp r;
	cr_assert_eq(do_register("A@X.io", "password123", &r), 201, "%s", r.body);
	http_resp_free(&r);
	static const char *const dups[] = {"a@x.io", "A@X.io", "a@X.IO", NULL};
	for (int i = 0; dups[i]; i++) {
		do_register(dups[i], "other-password", &r);
		cr_expect_eq(r.status, 409, "duplicate %s: status %d, expected 409", dups[i],
		             r.status);
		if (r.status == 409)
			assert_error_body(&r, "duplicate");
		http_resp_free(&r);
	}
	/* The original password still works; the duplicate's does not. */
	cr_assert_eq(do_login("a@x.io", "password123", &r), 200);
	http_resp_free(&r);
	cr_assert_eq(do_login("a@x.io", "other-password", &r), 401);
	http_resp_free(&r);
	server_stop_ok(&srv);
}

/* ------------------------------------------------------------------ */
/* Login and the access token */

Test(auth, login_issues_hs256_token)
{
	server_start(&srv, NULL);
	struct http_resp r;
	long long id = user_register(&srv, "Login.User@Example.com", "password123");
	int64_t before = it_time();
	cr_assert_eq(do_login("LOGIN.USER@EXAMPLE.COM", "password123", &r), 200,
	             "login with upper-cased email: %d %s", r.status, r.body);
	expect_token_pair(&r, 30 * 60, "login");
	cr_expect(!strstr(r.body, "$2"), "login response contains a bcrypt hash");

	jwt_t *jwt = NULL;
	const char *access = resp_str(&r, "access_token");
	int rc = jwt_decode(&jwt, access, (const unsigned char *)TEST_SECRET_KEY,
	                    (int)strlen(TEST_SECRET_KEY));
	cr_assert_eq(rc, 0, "access token does not verify with SECRET_KEY: %s", access);
	cr_assert_eq(jwt_get_alg(jwt), JWT_ALG_HS256, "access token alg %s",
	             jwt_alg_str(jwt_get_alg(jwt)));
	char want_sub[32];
	snprintf(want_sub, sizeof(want_sub), "%lld", id);
	const char *sub = jwt_get_grant(jwt, "sub");
	cr_assert(sub && strcmp(sub, want_sub) == 0,
	          "sub \"%s\", expected the user id as a string %s", sub, want_sub);
	long iat = jwt_get_grant_int(jwt, "iat"), exp = jwt_get_grant_int(jwt, "exp");
	cr_assert(iat >= before - 5 && iat <= it_time() + 5, "iat %ld is not now", iat);
	cr_assert(exp - iat >= 30 * 60 - 1 && exp - iat <= 30 * 60 + 1,
	          "exp - iat = %ld, expected 1800", exp - iat);
	jwt_free(jwt);

	/* The token works. */
	cr_assert_eq(me_status(access), 200, "the issued access token is refused");
	http_resp_free(&r);
	server_stop_ok(&srv);
}

static const char *const expire_env[] = {"ACCESS_TOKEN_EXPIRE_MINUTES=5", NULL};

Test(auth, expires_in_follows_config)
{
	server_start(&srv, expire_env);
	struct it_user u;
	user_new(&srv, &u);
	struct http_resp r;
	cr_assert_eq(do_login(u.email, u.password, &r), 200);
	expect_token_pair(&r, 300, "login with ACCESS_TOKEN_EXPIRE_MINUTES=5");
	jwt_t *jwt = NULL;
	cr_assert_eq(jwt_decode(&jwt, resp_str(&r, "access_token"),
	                        (const unsigned char *)TEST_SECRET_KEY,
	                        (int)strlen(TEST_SECRET_KEY)),
	             0);
	long life = jwt_get_grant_int(jwt, "exp") - jwt_get_grant_int(jwt, "iat");
	cr_assert(life >= 299 && life <= 301, "exp - iat = %ld, expected 300", life);
	jwt_free(jwt);
	http_resp_free(&r);
	user_free(&u);
	server_stop_ok(&srv);
}

Test(auth, login_failures_are_uniform)
{
	server_start(&srv, NULL);
	user_register(&srv, "known@example.com", "password123");
	struct {
		const char *email, *password, *what;
	} cases[] = {
	    {"known@example.com", "wrong-password", "wrong password"},
	    {"known@example.com", "PASSWORD123", "password case differs"},
	    {"unknown@example.com", "password123", "unknown email"},
	    {"known@example.co", "password123", "near-miss email"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct http_resp r;
		do_login(cases[i].email, cases[i].password, &r);
		expect_401(&r, cases[i].what);
		const char *d = resp_str(&r, "detail");
		cr_expect(d && strcmp(d, "Invalid credentials") == 0,
		          "%s: detail \"%s\", expected exactly \"Invalid credentials\"",
		          cases[i].what, d);
		http_resp_free(&r);
	}
	static const char *const bad[] = {"{\"email\":\"known@example.com\"}",
	                                  "{\"password\":\"password123\"}",
	                                  "{\"email\":5,\"password\":\"password123\"}", NULL};
	for (int i = 0; bad[i]; i++) {
		struct http_resp r;
		post("/api/v1/auth/login", NULL, bad[i], &r);
		cr_expect_eq(r.status, 422, "login %s: status %d, expected 422", bad[i], r.status);
		http_resp_free(&r);
	}
	server_stop_ok(&srv);
}

Test(auth, me_returns_the_caller)
{
	server_start(&srv, NULL);
	struct it_user u;
	user_new(&srv, &u);
	struct http_resp r;
	cr_assert_eq(api(&srv, "GET", "/api/v1/auth/me", u.access, NULL, &r), 200, "%s", r.body);
	cr_assert_eq(json_integer_value(json_object_get(r.json, "id")), u.id, "me id: %s", r.body);
	cr_assert_str_eq(resp_str(&r, "email") ? resp_str(&r, "email") : "", u.email);
	cr_assert(it_is_iso_ms(resp_str(&r, "created_at")), "me created_at: %s", r.body);
	cr_assert(!it_contains(r.body, "password", true) && !strstr(r.body, "$2"),
	          "me leaks password data: %s", r.body);
	http_resp_free(&r);
	user_free(&u);
	server_stop_ok(&srv);
}

/* Replaces the character at i with a different base64url one of full weight. */
static void flip_char(char *s, size_t i)
{
	s[i] = s[i] == 'A' ? 'Q' : 'A';
}

Test(auth, bad_access_tokens_are_401)
{
	server_start(&srv, NULL);
	struct it_user u, other;
	user_new(&srv, &u);
	user_new(&srv, &other);
	int64_t now = it_time();
	char sub[32], other_sub[32];
	snprintf(sub, sizeof(sub), "%lld", u.id);
	snprintf(other_sub, sizeof(other_sub), "%lld", other.id);

	/* Positive control: a token minted here with the key is accepted. */
	char *good = jwt_mint(sub, now, now + 600);
	cr_assert_eq(me_status(good), 200, "a correctly minted HS256 token is refused");

	char *payload = it_asprintf("{\"sub\":\"%s\",\"iat\":%lld,\"exp\":%lld}", sub,
	                            (long long)now, (long long)now + 600);
	char *expired = jwt_mint(sub, now - 3600, now - 60);
	char *bad_sig = it_strdup(good);
	flip_char(bad_sig, strrchr(bad_sig, '.') - bad_sig + 10);
	/* Payload swapped for another user's, signature kept. */
	char *other_good = jwt_mint(other_sub, now, now + 600);
	char *swapped = NULL;
	{
		const char *d1 = strchr(good, '.'), *d2 = strrchr(good, '.');
		const char *o1 = strchr(other_good, '.'), *o2 = strrchr(other_good, '.');
		swapped = it_asprintf("%.*s%.*s%s", (int)(d1 - good), good, (int)(o2 - o1), o1, d2);
	}
	char *alg_none = jwt_forge("{\"alg\":\"none\",\"typ\":\"JWT\"}", payload, "none", "");
	char *alg_none_sig =
	    jwt_forge("{\"alg\":\"none\",\"typ\":\"JWT\"}", payload, "HS256", TEST_SECRET_KEY);
	char *rs256 =
	    jwt_forge("{\"alg\":\"RS256\",\"typ\":\"JWT\"}", payload, "HS256", TEST_SECRET_KEY);
	char *hs512 =
	    jwt_forge("{\"alg\":\"HS512\",\"typ\":\"JWT\"}", payload, "HS512", TEST_SECRET_KEY);
	char *other_key =
	    jwt_forge("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload, "HS256",
	              "another-key-0123456789abcdefghijklmnopqrstuvwxyz0123456789abcd");
	char *sub_alpha = jwt_mint("abc", now, now + 600);
	char *sub_mixed = jwt_mint("12abc", now, now + 600);
	char *sub_empty = jwt_mint("", now, now + 600);
	char *no_sub = jwt_mint(NULL, now, now + 600);
	char *ghost = jwt_mint("987654321", now, now + 600);
	char *sub_neg = jwt_mint("-1", now, now + 600);
	char *two_parts = it_strdup(good);
	*strrchr(two_parts, '.') = '\0';

	struct {
		const char *header; /* full Authorization value, or NULL for none */
		const char *what;
	} cases[] = {
	    {NULL, "no Authorization header"},
	    {"Bearer", "Bearer without token"},
	    {"Bearer ", "Bearer with empty token"},
	    {"Basic dXNlcjpwYXNzd29yZA==", "Basic scheme"},
	    {"Token abc", "unknown scheme"},
	    {"Bearer garbage", "garbage token"},
	    {"Bearer a.b.c", "garbage three parts"},
	    {NULL, "two-part token"},
	    {NULL, "expired"},
	    {NULL, "tampered signature"},
	    {NULL, "payload of another user with the original signature"},
	    {NULL, "alg none, empty signature"},
	    {NULL, "alg none, HMAC signature"},
	    {NULL, "RS256 header"},
	    {NULL, "HS512 header and signature"},
	    {NULL, "signed with another key"},
	    {NULL, "sub \"abc\""},
	    {NULL, "sub \"12abc\""},
	    {NULL, "sub \"\""},
	    {NULL, "no sub"},
	    {NULL, "sub of a user that does not exist"},
	    {NULL, "sub \"-1\""},
	};
	const char *tokens[] = {NULL,         NULL,      NULL,    NULL,      NULL,      NULL,
	                        NULL,         two_parts, expired, bad_sig,   swapped,   alg_none,
	                        alg_none_sig, rs256,     hs512,   other_key, sub_alpha, sub_mixed,
	                        sub_empty,    no_sub,    ghost,   sub_neg};
	_Static_assert(sizeof(tokens) / sizeof(tokens[0]) == sizeof(cases) / sizeof(cases[0]),
	               "one token per case");
	static const char *const paths[] = {"/api/v1/auth/me", "/api/v1/notes", NULL};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *hdr = NULL;
		if (tokens[i])
			hdr = it_asprintf("Authorization: Bearer %s", tokens[i]);
		else if (cases[i].header)
			hdr = it_asprintf("Authorization: %s", cases[i].header);
		for (int p = 0; paths[p]; p++) {
			const char *const headers[] = {hdr, NULL};
			struct http_resp r;
			http(&srv, "GET", paths[p], hdr ? headers : NULL, NULL, &r);
			char *what = it_asprintf("%s on %s", cases[i].what, paths[p]);
			expect_401(&r, what);
			free(what);
			http_resp_free(&r);
		}
		free(hdr);
	}
	/* And a POST that would write is refused the same way. */
	struct http_resp r;
	api(&srv, "POST", "/api/v1/notes", expired, "{\"title\":\"x\"}", &r);
	expect_401(&r, "create note with an expired token");
	http_resp_free(&r);
	api(&srv, "GET", "/api/v1/notes", u.access, NULL, &r);
	cr_assert_eq(json_integer_value(json_object_get(r.json, "total")), 0,
	             "a refused create stored a note: %s", r.body);
	http_resp_free(&r);

	free(good);
	free(payload);
	free(expired);
	free(bad_sig);
	free(other_good);
	free(swapped);
	free(alg_none);
	free(alg_none_sig);
	free(rs256);
	free(hs512);
	free(other_key);
	free(sub_alpha);
	free(sub_mixed);
	free(sub_empty);
	free(no_sub);
	free(ghost);
	free(sub_neg);
	free(two_parts);
	user_free(&u);
	user_free(&other);
	server_stop_ok(&srv);
}

Test(auth, refresh_token_is_not_an_access_token)
{
	server_start(&srv, NULL);
	struct it_user u;
	user_new(&srv, &u);
	struct http_resp r;
	api(&srv, "GET", "/api/v1/auth/me", u.refresh, NULL, &r);
	expect_401(&r, "refresh token used as access token");
	http_resp_free(&r);
	do_refresh(u.access, &r);
	cr_assert_eq(r.status, 401, "access token used as refresh token: %d", r.status);
	http_resp_free(&r);
	/* The real refresh token was not burnt by those attempts. */
	cr_assert_eq(refresh_status(u.refresh), 200);
	user_free(&u);
	server_stop_ok(&srv);
}

/* ------------------------------------------------------------------ */
/* Refresh rotation */

Test(auth, refresh_rotates_and_detects_reuse)
{
	/* No grace: the replay below comes milliseconds after the rotation. */
	server_start(&srv, (const char *const[]){"REFRESH_REUSE_GRACE_SECONDS=0", NULL});
	struct it_user u;
	user_new(&srv, &u);
	char *r0 = it_strdup(u.refresh);

	/* A second login is a separate family. */
	struct it_user u2 = u;
	u2.access = u2.refresh = NULL;
	user_login(&srv, &u2);

	struct http_resp r;
	cr_assert_eq(do_refresh(r0, &r), 200, "refresh: %d %s", r.status, r.body);
	expect_token_pair(&r, 30 * 60, "refresh");
	char *r1 = it_strdup(resp_str(&r, "refresh_token"));
	char *a1 = it_strdup(resp_str(&r, "access_token"));
	cr_assert_str_neq(r1, r0, "refresh returned the same refresh token");
	http_resp_free(&r);
	cr_assert_eq(me_status(a1), 200, "access token from refresh refused");

	/* Presenting the rotated token again: 401, and the family is revoked. */
	do_refresh(r0, &r);
	cr_assert_eq(r.status, 401, "reused refresh token: %d, expected 401", r.status);
	assert_error_body(&r, "reused refresh token");
	http_resp_free(&r);
	cr_assert_eq(refresh_status(r1), 401,
	             "newest refresh token of a family still works after reuse was detected");

	/* The other login's family is untouched. */
	cr_assert_eq(refresh_status(u2.refresh), 200, "another login's refresh token was revoked");

	free(r0);
	free(r1);
	free(a1);
	user_free(&u);
	user_free(&u2);
	server_stop_ok(&srv);
}

/*
 * Within REFRESH_REUSE_GRACE_SECONDS of its rotation, a spent token is the
 * loser of two refreshes at once (two tabs, two servers): refused, and the
 * winner's login lives on. After it, the same token is a replay.
 */
Test(auth, refresh_race_loser_is_refused_without_revoking)
{
	server_start(&srv, (const char *const[]){"REFRESH_REUSE_GRACE_SECONDS=1", NULL});
	struct it_user u;
	user_new(&srv, &u);
	struct http_resp r;
	cr_assert_eq(do_refresh(u.refresh, &r), 200, "refresh: %d %s", r.status, r.body);
	char *r1 = it_strdup(resp_str(&r, "refresh_token"));
	http_resp_free(&r);

	do_refresh(u.refresh, &r);
	cr_assert_eq(r.status, 401, "the loser of a race: %d, expected 401", r.status);
	assert_error_body(&r, "race loser");
	http_resp_free(&r);
	char *log = server_log(&srv);
	cr_assert_null(strstr(log, "refresh_token_reuse"), "a race was logged as a reuse");
	free(log);
	cr_assert_eq(do_refresh(r1, &r), 200, "the winner's login was revoked by the loser");
	char *r2 = it_strdup(resp_str(&r, "refresh_token"));
	http_resp_free(&r);

	it_sleep_ms(1100);
	do_refresh(r1, &r);
	cr_assert_eq(r.status, 401, "a replay after the grace: %d", r.status);
	http_resp_free(&r);
	cr_assert_eq(refresh_status(r2), 401, "the family survived a replay after the grace");
	free(r1);
	free(r2);
	user_free(&u);
	server_stop_ok(&srv);
}

Test(auth, refresh_chain_keeps_working)
{
	server_start(&srv, NULL);
	struct it_user u;
	user_new(&srv, &u);
	char *cur = it_strdup(u.refresh);
	for (int i = 0; i < 5; i++) {
		struct http_resp r;
		cr_assert_eq(do_refresh(cur, &r), 200, "refresh #%d: %d %s", i, r.status, r.body);
		free(cur);
		cur = it_strdup(resp_str(&r, "refresh_token"));
		http_resp_free(&r);
	}
	free(cur);
	user_free(&u);
	server_stop_ok(&srv);
}

Test(auth, refresh_rejects_garbage)
{
	server_start(&srv, NULL);
	static const char *const bodies[] = {"{\"refresh_token\":\"garbage\"}",
	                                     "{\"refresh_token\":\"a.b.c\"}", NULL};
	for (int i = 0; bodies[i]; i++) {
		struct http_resp r;
		post("/api/v1/auth/refresh", NULL, bodies[i], &r);
		cr_expect_eq(r.status, 401, "refresh %s: %d, expected 401", bodies[i], r.status);
		if (r.status == 401)
			assert_error_body(&r, "garbage refresh");
		http_resp_free(&r);
	}
	/* A forged JWT with the right key is not a refresh token either. */
	char *forged = jwt_mint("1", it_time(), it_time() + 600);
	cr_assert_eq(refresh_status(forged), 401, "a minted JWT was accepted as refresh token");
	free(forged);
	struct http_resp r;
	post("/api/v1/auth/refresh", NULL, "{}", &r);
	cr_assert_eq(r.status, 422, "refresh without refresh_token: %d, expected 422", r.status);
	http_resp_free(&r);
	post("/api/v1/auth/refresh", NULL, "{\"refresh_token\":42}", &r);
	cr_assert_eq(r.status, 422, "refresh_token 42: %d, expected 422", r.status);
	http_resp_free(&r);
	server_stop_ok(&srv);
}

struct race_arg {
	const char *base_url;
	const char *body;
	int status;
};

static void *refresh_thread(void *p)
{
	struct race_arg *a = p;
	struct http_req q = {.method = "POST",
	                     .path = "/api/v1/auth/refresh",
	                     .body = a->body,
	                     .body_len = strlen(a->body)};
	struct http_resp r;
	http_do(a->base_url, &q, &r);
	a->status = r.status;
	http_resp_free(&r);
	return NULL;
}

Test(auth, concurrent_refresh_of_one_token_succeeds_once)
{
	server_start(&srv, NULL);
	struct it_user u;
	user_new(&srv, &u);
	char *body = it_jpack("{s:s}", "refresh_token", u.refresh);
	enum { N = 6 };
	struct race_arg args[N];
	pthread_t th[N];
	for (int i = 0; i < N; i++) {
		args[i] = (struct race_arg){.base_url = srv.base_url, .body = body};
		pthread_create(&th[i], NULL, refresh_thread, &args[i]);
	}
	int ok = 0, other = 0;
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		if (args[i].status == 200)
			ok++;
		else if (args[i].status != 401)
			other++;
	}
	cr_assert_eq(other, 0, "concurrent refresh answered something other than 200/401");
	cr_assert_eq(ok, 1, "%d of %d concurrent refreshes of one token succeeded, expected 1", ok,
	             N);
	free(body);
	user_free(&u);
	server_stop_ok(&srv);
}

static void *register_thread(void *p)
{
	struct race_arg *a = p;
	struct http_req q = {.method = "POST",
	                     .path = "/api/v1/auth/register",
	                     .body = a->body,
	                     .body_len = strlen(a->body)};
	struct http_resp r;
	http_do(a->base_url, &q, &r);
	a->status = r.status;
	http_resp_free(&r);
	return NULL;
}

Test(auth, concurrent_duplicate_registration_one_wins)
{
	server_start(&srv, NULL);
	enum { N = 8 };
	struct race_arg args[N];
	pthread_t th[N];
	char *bodies[N];
	for (int i = 0; i < N; i++) {
		/* Same address, different case and password. */
		char pw[32];
		snprintf(pw, sizeof(pw), "password-%d", i);
		bodies[i] =
		    it_jpack("{s:s, s:s}", "email", i % 2 ? "Race@Example.com" : "race@example.com",
		             "password", pw);
		args[i] = (struct race_arg){.base_url = srv.base_url, .body = bodies[i]};
	}
	for (int i = 0; i < N; i++)
		pthread_create(&th[i], NULL, register_thread, &args[i]);
	int created = 0, conflict = 0;
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		created += args[i].status == 201;
		conflict += args[i].status == 409;
		cr_expect(args[i].status == 201 || args[i].status == 409,
		          "concurrent register #%d: status %d, expected 201 or 409", i,
		          args[i].status);
		free(bodies[i]);
	}
	cr_assert_eq(created, 1, "%d concurrent registrations of one address succeeded", created);
	cr_assert_eq(conflict, N - 1);
	server_stop_ok(&srv);
}

/* ------------------------------------------------------------------ */
/* Logout */

Test(auth, logout_with_token_revokes_that_login_only)
{
	server_start(&srv, NULL);
	struct it_user u;
	user_new(&srv, &u);
	struct it_user second = u;
	second.access = second.refresh = NULL;
	user_login(&srv, &second);

	struct http_resp r;
	char *body = it_jpack("{s:s}", "refresh_token", u.refresh);
	api(&srv, "POST", "/api/v1/auth/logout", u.access, body, &r);
	cr_assert_eq(r.status, 204, "logout with body: %d %s", r.status, r.body);
	cr_assert_eq(r.body_len, 0, "204 with a body: %s", r.body);
	http_resp_free(&r);
	cr_assert_eq(refresh_status(u.refresh), 401, "refresh after logout still works");
	cr_assert_eq(refresh_status(second.refresh), 200,
	             "logout with a refresh_token revoked another login too");
	free(body);
	user_free(&u);
	user_free(&second);
	server_stop_ok(&srv);
}

Test(auth, logout_after_rotation_revokes_family)
{
	server_start(&srv, NULL);
	struct it_user u;
	user_new(&srv, &u);
	struct http_resp r;
	cr_assert_eq(do_refresh(u.refresh, &r), 200);
	char *newest = it_strdup(resp_str(&r, "refresh_token"));
	http_resp_free(&r);
	char *body = it_jpack("{s:s}", "refresh_token", newest);
	cr_assert_eq(api(&srv, "POST", "/api/v1/auth/logout", u.access, body, &r), 204);
	http_resp_free(&r);
	cr_assert_eq(refresh_status(newest), 401, "newest refresh token works after logout");
	free(body);
	free(newest);
	user_free(&u);
	server_stop_ok(&srv);
}

Test(auth, logout_without_body_revokes_all)
{
	server_start(&srv, NULL);
	struct it_user u;
	user_new(&srv, &u);
	struct it_user second = u;
	second.access = second.refresh = NULL;
	user_login(&srv, &second);
	struct http_resp r;
	api(&srv, "POST", "/api/v1/auth/logout", u.access, NULL, &r);
	cr_assert_eq(r.status, 204, "logout without body: %d %s", r.status, r.body);
	http_resp_free(&r);
	cr_assert_eq(refresh_status(u.refresh), 401, "first login's refresh works after logout");
	cr_assert_eq(refresh_status(second.refresh), 401,
	             "second login's refresh works after logout without body");
	/* Logging in again works. */
	user_login(&srv, &u);
	cr_assert_eq(refresh_status(u.refresh), 200);
	user_free(&u);
	user_free(&second);
	server_stop_ok(&srv);
}

Test(auth, logout_requires_bearer)
{
	server_start(&srv, NULL);
	struct it_user u;
	user_new(&srv, &u);
	struct http_resp r;
	char *body = it_jpack("{s:s}", "refresh_token", u.refresh);
	api(&srv, "POST", "/api/v1/auth/logout", NULL, body, &r);
	expect_401(&r, "logout without Authorization");
	http_resp_free(&r);
	cr_assert_eq(refresh_status(u.refresh), 200, "unauthenticated logout revoked the token");
	free(body);
	user_free(&u);
	server_stop_ok(&srv);
}

/* ------------------------------------------------------------------ */
/* Account deletion */

Test(auth, delete_me_removes_account_and_notes)
{
	server_start(&srv, NULL);
	struct it_user u;
	user_new(&srv, &u);
	long long note = note_create(&srv, u.access, "{\"title\":\"mine\",\"tags\":[\"t\"]}");
	struct http_resp r;
	api(&srv, "DELETE", "/api/v1/auth/me", u.access, NULL, &r);
	cr_assert_eq(r.status, 204, "DELETE me: %d %s", r.status, r.body);
	http_resp_free(&r);

	api(&srv, "GET", "/api/v1/auth/me", u.access, NULL, &r);
	expect_401(&r, "old token after DELETE me");
	http_resp_free(&r);
	api(&srv, "GET", "/api/v1/notes", u.access, NULL, &r);
	expect_401(&r, "old token on notes after DELETE me");
	http_resp_free(&r);
	cr_assert_eq(refresh_status(u.refresh), 401, "refresh token of a deleted user works");
	do_login(u.email, u.password, &r);
	cr_assert_eq(r.status, 401, "login of a deleted user: %d", r.status);
	http_resp_free(&r);

	/* The email can register again: a new, empty account. */
	struct it_user again = {0};
	snprintf(again.email, sizeof(again.email), "%s", u.email);
	snprintf(again.password, sizeof(again.password), "brand-new-password");
	again.id = user_register(&srv, again.email, again.password);
	user_login(&srv, &again);
	api(&srv, "GET", "/api/v1/notes", again.access, NULL, &r);
	cr_assert_eq(r.status, 200);
	cr_assert_eq(json_integer_value(json_object_get(r.json, "total")), 0,
	             "the re-registered account sees old notes: %s", r.body);
	http_resp_free(&r);
	cr_assert_eq(note_get(&srv, again.access, note, &r), 404,
	             "deleted user's note visible to the new account");
	http_resp_free(&r);
	/* Even if the new account reused the old id, the old token must stay dead. */
	api(&srv, "GET", "/api/v1/auth/me", u.access, NULL, &r);
	expect_401(&r, "old token after the email registered again");
	if (r.status == 200)
		cr_log_error("old id %lld, new id %lld: user ids are reused", u.id, again.id);
	http_resp_free(&r);
	user_free(&u);
	user_free(&again);
	server_stop_ok(&srv);
}

/*
 * A token accepted once is remembered as verified (auth.c), but its expiry
 * is checked at every use: a second after it passes, the same token is 401.
 * And a user deleted meanwhile no longer gets in with a token verified before.
 */
Test(auth, a_token_verified_before_still_expires_and_dies_with_its_user)
{
	server_start(&srv, NULL);
	struct it_user u;
	struct http_resp r;
	user_new(&srv, &u);
	char sub[32];
	snprintf(sub, sizeof(sub), "%lld", u.id);
	int64_t now = it_time();
	char *brief = jwt_mint(sub, now, now + 2);
	cr_assert_eq(me_status(brief), 200);
	cr_assert_eq(me_status(brief), 200);
	while (it_time() <= now + 2)
		usleep(100 * 1000);
	cr_assert_eq(me_status(brief), 401, "an expired token was taken from the cache");

	char *longer = jwt_mint(sub, now, now + 600);
	cr_assert_eq(me_status(longer), 200);
	cr_assert_eq(api(&srv, "DELETE", "/api/v1/auth/me", u.access, NULL, &r), 204, "%s", r.body);
	http_resp_free(&r);
	cr_assert_eq(me_status(longer), 401, "a deleted user's token still worked");
	free(brief);
	free(longer);
	user_free(&u);
	server_stop_ok(&srv);
}
